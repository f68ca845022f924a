"""Settings → Database as the running app does it: what it uses now, copying its data into a newly
set-up MySQL database, and switching (which takes effect when WearSync starts again).

Built on services/reach/mysql_setup.py (accounts, switch file) and services/reach/db_move.py (the checked
copy); this room adds what only the running app knows: its own database URL, the acting user
(permission and audit trail) and the environment variable that would override a switch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from db.engine import Database
from db.models import Patient
from services import config
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.errors import InvalidInput
from services.reach.db_move import MoveProgress, MoveReport, move_database
from services.reach.mysql_setup import AdminLogin, MySQLSetupResult, set_up_mysql, switch_to_mysql, switch_to_sqlite
from services.secrets import SecretStore


class DatabaseHost(Protocol):
    """What switching databases needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def environ(self) -> Mapping[str, str]: ...
    @property
    def paths(self) -> config.Paths: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...

log = logging.getLogger(__name__)

OVERRIDE_ENV = "WEARSYNC_DATABASE_URL"


@dataclass(frozen=True)
class CurrentDatabase:
    dialect: str  # sqlite | mysql
    safe_url: str
    patients: int
    #: WEARSYNC_DATABASE_URL is set: the environment decides, a switch here would not take effect
    overridden: bool


def describe_current(app: DatabaseHost) -> CurrentDatabase:
    with app.db.session() as s:
        patients = int(s.scalar(select(func.count()).select_from(Patient).where(Patient.deleted_at.is_(None))) or 0)
    return CurrentDatabase(app.db.dialect, app.db.safe_url(), patients, bool(app.environ.get(OVERRIDE_ENV)))


def _refuse_override(app: DatabaseHost) -> None:
    if app.environ.get(OVERRIDE_ENV):
        raise InvalidInput(
            f"{OVERRIDE_ENV} is set in WearSync's environment, so it decides which database WearSync uses and a "
            "switch here would not take effect. Remove that variable (from the service or shortcut that starts "
            "WearSync), then try again.", title="Database")


def _same_database(a: str, b: str) -> bool:
    ua, ub = make_url(a), make_url(b)
    if ua.get_backend_name() != ub.get_backend_name():
        return False
    if ua.get_backend_name() == "sqlite":
        return Path(ua.database or "").resolve() == Path(ub.database or "").resolve()
    return (ua.host or "localhost", ua.port or 3306, ua.database) == (ub.host or "localhost", ub.port or 3306,
                                                                     ub.database)


def set_up(app: DatabaseHost, actor: Actor, admin: AdminLogin, *, database: str, writer_user: str,
           reader_user: str, progress: Callable[[str], None] | None = None) -> MySQLSetupResult:
    """Create (or repair) the database and its writer and reader; passwords go to the keyring."""
    actor.require("database")
    _refuse_override(app)
    return set_up_mysql(admin, database=database, writer_user=writer_user, reader_user=reader_user,
                        secrets=app.secrets, backup_dir=app.paths.backups, progress=progress,
                        now=app.clock.utcnow())


def move_current_data(app: DatabaseHost, result: MySQLSetupResult, actor: Actor, *, overwrite: bool = False,
                      progress: Callable[[MoveProgress], None] | None = None) -> MoveReport:
    """Copy everything in the app's current database into the new one (checked table by table;
    a target with data raises Conflict unless `overwrite`). The current database is not changed."""
    actor.require("database")
    _refuse_override(app)
    if _same_database(app.db.url, result.database_url):
        raise InvalidInput(f"WearSync already uses {result.safe_url}; there is nothing to move.", title="Database")
    # as the owner: creating the tables, and replacing data (audit trail included), are schema-level work
    report = move_database(app.db.url, result.owner_url, overwrite=overwrite, backup_dir=app.paths.backups,
                           progress=progress, now=app.clock.utcnow())
    log.info("moved %s rows into %s", report.rows_copied, result.safe_url)
    return report


def switch_app_to_mysql(app: DatabaseHost, result: MySQLSetupResult, actor: Actor,
                        report: MoveReport | None = None) -> Path:
    """Make WearSync use the new database from its next start (after testing that it connects)."""
    actor.require("database")
    _refuse_override(app)
    path = switch_to_mysql(result, app.environ)
    detail = f"moved {report.rows_copied} rows" if report is not None else "without moving data"
    for db_url in (app.db.url, result.database_url):  # the trail shows the switch on both sides
        db = app.db if db_url == app.db.url else Database(db_url)
        try:
            AuditLog(db, app.clock).record(actor, "database.switch", result.safe_url, detail)
        except Exception:  # the switch is done; a missing audit line must not undo it
            log.exception("recording the database switch failed")
        finally:
            if db is not app.db:
                db.dispose()
    return path


def switch_app_to_sqlite(app: DatabaseHost, actor: Actor) -> Path:
    """Go back to the built-in database from the next start; data in MySQL stays there."""
    actor.require("database")
    _refuse_override(app)
    path = switch_to_sqlite(app.environ)
    try:
        app.audit.record(actor, "database.switch", "built-in SQLite database", "data in MySQL left in place")
    except Exception:
        log.exception("recording the database switch failed")
    return path
