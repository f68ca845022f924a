"""Who may do what in WearSync's MySQL/MariaDB database (DESIGN.md, "MySQL accounts by least privilege").

- the **owner** changes the schema (set-up, upgrades, the database move): ALL on the database, with
  GRANT OPTION so that an upgrade can extend the two grants below to the tables it adds;
- the **writer** (the app, every day) may SELECT/INSERT/UPDATE/DELETE the data tables, but only
  SELECT/INSERT the audit trail, and read the schema revision: no DDL, no TRIGGER, no GRANT;
- the **reader** (Grafana) may SELECT the measurement, device, coverage and patient-ID tables and the
  views below (which leave out tokens, notes and every other setting), nothing else.

The grants are table by table (a database-wide UPDATE would reach the audit trail too), so they are
applied after the tables exist: by the set-up, and again after each upgrade, for the accounts named in
`ACCOUNTS_TABLE` (written by the set-up, read only by the owner). The audit trail's triggers stay as a
second layer; the owner alone may lift them (`lift_audit_delete_guard`) to replace a whole database.
SQLite has no accounts: nothing here applies to it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from db.models import Base

log = logging.getLogger(__name__)

AUDIT_TABLE = "audit_log"
ACCOUNTS_TABLE = "wearsync_db_accounts"
VERSION_TABLE = "alembic_version"
WRITER, READER = "writer", "reader"

AUDIT_MESSAGE = "The audit trail is append-only: entries cannot be changed or deleted."
AUDIT_TRIGGERS = {"audit_log_no_update": "UPDATE", "audit_log_no_delete": "DELETE"}

# Views for Grafana: the columns a dashboard needs and nothing more.
READER_VIEWS: Mapping[str, str] = {
    # the patient ID and its row id (dashboards select patients by the number, never by text)
    "patient_ids": "SELECT id, code, deleted_at FROM patients",
    # connection status and last download, without tokens, vendor user ids or scopes
    "connection_status": ("SELECT id, patient_id, vendor, status, last_error, last_sync_at, updated_at "
                          "FROM connections"),
    # the one setting a dashboard reads
    "dashboard_settings": "SELECT `key`, value FROM settings WHERE `key` IN ('alert_after_days')",
}

READER_TABLES = (
    "heart_rate_samples", "step_intervals", "resting_heart_rate", "sleep_sessions", "sleep_stages",
    "respiratory_samples", "snoring_samples", "exercises", "daily_activity", "body_measures",
    "devices", "device_syncs", "coverage", "sync_runs", "alerts_sent",
)
DML = "SELECT, INSERT, UPDATE, DELETE"


def writer_grants(existing: Iterable[str] | None = None) -> dict[str, str]:
    """table -> privileges for the writer. Every table of the model, the audit trail append-only."""
    grants = {name: DML for name in Base.metadata.tables if name != AUDIT_TABLE}
    grants[AUDIT_TABLE] = "SELECT, INSERT"
    grants[VERSION_TABLE] = "SELECT"
    if existing is not None:
        have = set(existing)
        grants = {t: p for t, p in grants.items() if t in have}
    return grants


def reader_grants(existing: Iterable[str] | None = None) -> dict[str, str]:
    grants = {name: "SELECT" for name in (*READER_TABLES, *READER_VIEWS)}
    if existing is not None:
        have = set(existing)
        grants = {t: p for t, p in grants.items() if t in have}
    return grants


# --------------------------------------------------------------------------- schema objects (migrations)


def create_views(bind: sa.Connection) -> None:
    if bind.dialect.name != "mysql":
        return
    for name, select in READER_VIEWS.items():
        bind.exec_driver_sql(f"CREATE OR REPLACE SQL SECURITY DEFINER VIEW `{name}` AS {select}")


def drop_views(bind: sa.Connection) -> None:
    if bind.dialect.name != "mysql":
        return
    for name in READER_VIEWS:
        bind.exec_driver_sql(f"DROP VIEW IF EXISTS `{name}`")


def audit_trigger_sql(name: str, event: str) -> str:
    """The MySQL trigger refusing `event` on the audit trail for everyone (no session-variable way round)."""
    return (f"CREATE TRIGGER `{name}` BEFORE {event} ON `{AUDIT_TABLE}` FOR EACH ROW "
            f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{AUDIT_MESSAGE}'")


def ensure_audit_triggers(conn: sa.Connection) -> None:
    """(Re)create missing audit-trail triggers (MySQL); needs the TRIGGER privilege (the owner)."""
    if conn.dialect.name != "mysql":
        return
    have = set(conn.execute(sa.text(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
    )).scalars())
    for name, event in AUDIT_TRIGGERS.items():
        if name not in have:
            conn.exec_driver_sql(audit_trigger_sql(name, event))


def lift_audit_delete_guard(conn: sa.Connection) -> None:
    """Drop the delete trigger so the owner can replace a whole database; MySQL DDL commits at once,
    so call this outside the copy's transaction and `ensure_audit_triggers` after it, always."""
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS `audit_log_no_delete`")


# --------------------------------------------------------------------------- accounts and grants


def register_accounts(conn: sa.Connection, role: str, user: str, hosts: Iterable[str]) -> None:
    """Remember which MySQL accounts play `role`, so that upgrades can extend their grants."""
    conn.execute(sa.text(f"DELETE FROM `{ACCOUNTS_TABLE}` WHERE role = :r"), {"r": role})
    for host in hosts:
        conn.execute(sa.text(f"INSERT INTO `{ACCOUNTS_TABLE}` (role, user_name, host) VALUES (:r, :u, :h)"),
                     {"r": role, "u": user, "h": host})


def registered_accounts(conn: sa.Connection) -> list[tuple[str, str, str]]:
    rows = conn.execute(sa.text(f"SELECT role, user_name, host FROM `{ACCOUNTS_TABLE}` ORDER BY role, host"))
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def _existing_tables(conn: sa.Connection) -> list[str]:
    return list(conn.execute(sa.text(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")).scalars())


def apply_grants(conn: sa.Connection) -> int:
    """Grant the registered writer and reader exactly their tables (additive: the set-up revokes
    older grants first). Returns how many accounts were granted; 0 on SQLite or before a set-up."""
    if conn.dialect.name != "mysql":
        return 0
    tables = _existing_tables(conn)
    if ACCOUNTS_TABLE not in tables:
        return 0
    database = str(conn.execute(sa.text("SELECT DATABASE()")).scalar())
    plans = {WRITER: writer_grants(tables), READER: reader_grants(tables)}
    accounts = registered_accounts(conn)
    for role, user, host in accounts:
        for table, privileges in plans.get(role, {}).items():
            conn.execute(sa.text(f"GRANT {privileges} ON `{database}`.`{table}` TO :u@:h"), {"u": user, "h": host})
    return len(accounts)


def apply_grants_after_upgrade(conn: sa.Connection) -> None:
    """After a migration: extend the grants to new tables; an account that may not grant (an older
    installation's writer) leaves them as they were and says what to run."""
    try:
        apply_grants(conn)
    except DBAPIError as exc:
        log.warning("the database accounts' grants could not be renewed (%s); run `main.py mysql setup` "
                    "to renew them", type(exc.orig).__name__)
