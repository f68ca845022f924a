"""enrolment links and OAuth states bound to the patient's row, voidable, one pending state per link

A link or pending state used to name its patient only by the ID text, so after a rename (and a new
patient taking the old ID) or a device-type move an old link reached the wrong patient. Now each
carries the patient's row id; `voided_at` marks those cancelled by a rename, move, delete or
withdrawal; an enrolment link keeps its current pending state (encrypted) so opening it again reuses
that state instead of adding a row each time. Existing rows are bound to the live patient whose ID
they name.

Revision ID: 0004_link_binding
Revises: 0007_dataset_deletion (re-chained after the newest migration on main)
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_link_binding"
down_revision = "0007_dataset_deletion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("oauth_states", "enrolment_links"):
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
            b.add_column(sa.Column("voided_at", sa.DateTime(), nullable=True))
        op.execute(
            f"UPDATE {table} SET patient_id = (SELECT p.id FROM patients p "
            f"WHERE p.code = {table}.patient_code AND p.deleted_at IS NULL)"
        )
        op.create_index(f"ix_{table}_patient_id", table, ["patient_id"])
    with op.batch_alter_table("enrolment_links") as b:
        b.add_column(sa.Column("state_ciphertext", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrolment_links") as b:
        b.drop_column("state_ciphertext")
    for table in ("oauth_states", "enrolment_links"):
        op.drop_index(f"ix_{table}_patient_id", table_name=table)
        with op.batch_alter_table(table) as b:
            b.drop_column("voided_at")
            b.drop_column("patient_id")
