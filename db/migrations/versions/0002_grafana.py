"""measurement decimals as DOUBLE on MySQL/MariaDB

SQLAlchemy's Float becomes MySQL's single-precision FLOAT (about 7 significant digits), so a
distance of 12345.678 m was stored as 12345.7 and a move from SQLite (8-byte REAL) could not be
exact. SQLite already stores 8-byte floats, so nothing changes there.

Revision ID: 0002_grafana
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_grafana'
down_revision = '0001'
branch_labels = None
depends_on = None

FLOAT_COLUMNS = {
    'sleep_sessions': ('efficiency', 'hr_average', 'hr_min', 'hr_max', 'rr_average', 'rr_min', 'rr_max',
                       'apnea_hypopnea_index'),
    'respiratory_samples': ('breaths_per_minute',),
    'snoring_samples': ('value',),
    'exercises': ('distance_m',),
    'body_measures': ('value',),
}
NOT_NULL = {('respiratory_samples', 'breaths_per_minute'), ('snoring_samples', 'value'), ('body_measures', 'value')}


def _retype(new: sa.types.TypeEngine[float], old: sa.types.TypeEngine[float]) -> None:
    if op.get_bind().dialect.name != 'mysql':
        return
    for table, columns in FLOAT_COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old,
                            existing_nullable=(table, column) not in NOT_NULL)


def upgrade() -> None:
    _retype(sa.Double(), sa.Float())


def downgrade() -> None:
    _retype(sa.Float(), sa.Double())
