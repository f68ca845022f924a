"""Schema upgrades as the right account.

On MySQL/MariaDB the everyday (writer) account may not change the schema (db/privileges.py). An
upgrade therefore runs as the owner whose login the set-up kept apart; without it, as the configured
account when that account may change the schema (an administrator's URL, an older installation);
otherwise it stops with one sentence saying what to run, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path

from db.engine import Database
from db.migrate import may_change_schema, needs_upgrade, upgrade
from services import config
from services.errors import DatabaseError

log = logging.getLogger(__name__)


class OwnerNeeded(DatabaseError):
    """A schema upgrade is due and only the everyday account is configured."""

    title = "The database needs an upgrade"


OWNER_NEEDED = (
    "WearSync's database needs an upgrade that only its owner account may make: run `main.py db upgrade` "
    "in a terminal on this computer (it asks for the MySQL administrator password), then start WearSync again."
)


def schema_database(db: Database, environ: Mapping[str, str]) -> Database | None:
    """A connection that may change the schema of `db`: the owner's (a new Database, dispose it), `db`
    itself when its account may and is not WearSync's writer (an administrator's URL), or None. An
    older installation's writer, which still holds ALL, is not used: its upgrade goes through
    `main.py db upgrade`, which restricts it."""
    if db.dialect != "mysql":
        return db
    owner = config.owner_database_url(environ)
    if owner is not None:
        return Database(owner)
    if not is_writer(db, environ) and may_change_schema(db):
        return db
    return None


def is_writer(db: Database, environ: Mapping[str, str]) -> bool:
    """Whether `db` connects as the writer the MySQL set-up stored (SECRET_USER)."""
    from sqlalchemy.engine import make_url

    from services.errors import WearSyncError
    from services.secrets import SecretStore

    try:
        writer = SecretStore(environ).get("SECRET_USER")
    except WearSyncError:
        return False
    return bool(writer) and make_url(db.url).username == writer


def upgrade_at_start(db: Database, backups: Path, environ: Mapping[str, str], *,
                     now: dt.datetime | None = None) -> str | None:
    """Bring the schema to the newest revision if needed; the backup path, if one was made. `now`:
    the app clock's time, for the backup's name."""
    if not needs_upgrade(db):
        return None
    target = schema_database(db, environ)
    if target is None:
        log.error("a schema upgrade is due and only the everyday database account is configured")
        raise OwnerNeeded(OWNER_NEEDED)
    try:
        return upgrade(target, backup_dir=backups, now=now)
    finally:
        if target is not db:
            target.dispose()
