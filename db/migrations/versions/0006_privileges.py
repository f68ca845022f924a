"""least privilege on MySQL/MariaDB: views for Grafana, the accounts table, no audit-trail bypass

- the audit trail's delete trigger no longer lets a session through that sets
  `@wearsync_replacing_database` (any session could); replacing a whole database is now the owner's
  job, who may lift the trigger (db/privileges.py);
- `wearsync_db_accounts` names the writer and reader accounts, so an upgrade run by the owner can
  extend their table-by-table grants to new tables;
- views `patient_ids`, `connection_status` and `dashboard_settings`: what Grafana's reader may see of
  patients, connections and settings.
SQLite has no accounts and no reader: nothing changes there.

Revision ID: 0006_privileges
Revises: 0004_link_binding
"""
import logging

import sqlalchemy as sa
from alembic import op

from db.privileges import ACCOUNTS_TABLE, AUDIT_TRIGGERS, audit_trigger_sql, create_views, drop_views

revision = "0006_privileges"
down_revision = "0004_link_binding"
branch_labels = None
depends_on = None

log = logging.getLogger("db.migrations")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "mysql":
        return
    if not sa.inspect(bind).has_table(ACCOUNTS_TABLE):  # kept when the revision was stamped back
        op.create_table(
            ACCOUNTS_TABLE,
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("user_name", sa.String(80), primary_key=True),
            sa.Column("host", sa.String(255), primary_key=True),
        )
    try:
        for name, event in AUDIT_TRIGGERS.items():
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS `{name}`")
            bind.exec_driver_sql(audit_trigger_sql(name, event))
    except sa.exc.DBAPIError as exc:
        log.warning("could not renew the audit-trail triggers (%s); the account privileges still keep the "
                    "trail append-only", type(exc.orig).__name__)
    create_views(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "mysql":
        return
    drop_views(bind)
    op.drop_table(ACCOUNTS_TABLE)
