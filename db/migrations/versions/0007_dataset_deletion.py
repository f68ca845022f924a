"""dataset deletion with undo, and days the sync must not download again (issue 11)

Revision ID: 0007_dataset_deletion
Revises: 0005_chart_indexes
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import LONGBLOB

revision = '0007_dataset_deletion'
down_revision = '0005_chart_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dataset_deletions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('selection', sa.Text(), nullable=False),
        sa.Column('counts', sa.Text(), nullable=False),
        sa.Column('payload', sa.LargeBinary().with_variant(LONGBLOB(), 'mysql'), nullable=True),
        sa.Column('exclude', sa.Boolean(), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('undone_at', sa.DateTime(), nullable=True),
        sa.Column('purged_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name='fk_dataset_deletions_patient_id_patients',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_dataset_deletions'),
    )
    op.create_table(
        'sync_exclusions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('data_type', sa.String(length=32), nullable=False),
        sa.Column('local_date', sa.Date(), nullable=False),
        sa.Column('deletion_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['connections.id'],
                                name='fk_sync_exclusions_connection_id_connections', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['deletion_id'], ['dataset_deletions.id'],
                                name='fk_sync_exclusions_deletion_id_dataset_deletions', ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_sync_exclusions'),
        sa.UniqueConstraint('connection_id', 'data_type', 'local_date', name='uq_excl_conn_type_date'),
    )


def downgrade() -> None:
    op.drop_table('sync_exclusions')
    op.drop_table('dataset_deletions')
