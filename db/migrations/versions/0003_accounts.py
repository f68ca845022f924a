"""audit trail append-only: triggers refusing UPDATE and DELETE on audit_log

No table changes: users and registration_keys from 0001 already hold what accounts need.

On MariaDB/MySQL, CREATE TRIGGER needs the TRIGGER privilege (and, with binary logging on, SUPER
or log_bin_trust_function_creators). Where the account lacks it, the upgrade logs a warning and
carries on: the app's own ORM guard (services/accounts/audit.py) still refuses edits, and the admin can
add the triggers later with the statements below.

Revision ID: 0003_accounts
Revises: 0002_grafana
"""
import logging

from alembic import op
import sqlalchemy as sa

revision = "0003_accounts"
down_revision = "0002_grafana"
branch_labels = None
depends_on = None

log = logging.getLogger("db.migrations")
MESSAGE = "The audit trail is append-only: entries cannot be changed or deleted."
TRIGGERS = {"audit_log_no_update": "UPDATE", "audit_log_no_delete": "DELETE"}


def _create_sql(dialect: str, name: str, event: str) -> str:
    if dialect == "sqlite":
        return (f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
    if event == "DELETE":
        # Replacing a whole database (services/reach/db_move.py, overwrite confirmed by an admin) is the
        # one sanctioned bulk delete; it marks its own session and keeps a backup first.
        return (f"CREATE TRIGGER {name} BEFORE {event} ON audit_log FOR EACH ROW BEGIN "
                f"IF @wearsync_replacing_database IS NULL THEN "
                f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{MESSAGE}'; END IF; END")
    return (f"CREATE TRIGGER {name} BEFORE {event} ON audit_log FOR EACH ROW "
            f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{MESSAGE}'")


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for name, event in TRIGGERS.items():
        if dialect == "sqlite":
            op.execute(_create_sql(dialect, name, event))
            continue
        if dialect != "mysql":
            continue
        try:
            # MySQL DDL is not transactional, so a refusal here leaves nothing half-done
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
            bind.exec_driver_sql(_create_sql(dialect, name, event))
        except sa.exc.DBAPIError as exc:
            log.warning("could not add the audit-trail trigger %s (%s); the app still refuses edits, "
                        "an administrator can add it later", name, type(exc.orig).__name__)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in ("sqlite", "mysql"):
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
