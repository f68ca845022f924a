"""covering indexes for the charts and the compliance grid (issue 10)

A patient's chart asks for one patient's heart rate (or steps) over a time range and aggregates it
per bucket. With (patient_id, time) alone, every matching row costs a jump from the index into the
table (on InnoDB, a second B-tree lookup by primary key). These indexes hold every column those
queries read, so the database answers from the index alone: a 90-day chart reads one contiguous
slice of one index. They replace the narrower (patient_id, time) indexes, which they extend.

Revision ID: 0005_chart_indexes
Revises: 0003_accounts
"""
from alembic import op

revision = '0005_chart_indexes'
down_revision = '0003_accounts'
branch_labels = None
depends_on = None

NEW = {
    'heart_rate_samples': ('ix_hr_chart', ['patient_id', 'ts_utc', 'kind', 'vendor', 'utc_offset_s', 'bpm']),
    'step_intervals': ('ix_steps_chart', ['patient_id', 'start_utc', 'utc_offset_s', 'steps']),
}
OLD = {
    'heart_rate_samples': ('ix_hr_patient_ts', ['patient_id', 'ts_utc']),
    'step_intervals': ('ix_steps_patient_start', ['patient_id', 'start_utc']),
}


def upgrade() -> None:
    for table, (name, columns) in NEW.items():
        op.create_index(name, table, columns, unique=False)
        op.drop_index(OLD[table][0], table_name=table)


def downgrade() -> None:
    for table, (name, columns) in OLD.items():
        op.create_index(name, table, columns, unique=False)
        op.drop_index(NEW[table][0], table_name=table)
