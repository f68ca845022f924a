"""Schema upgrades as the right account.

On MySQL/MariaDB the everyday (writer) account may not change the schema (db/privileges.py). An
upgrade therefore runs as the owner whose login the set-up kept apart; without it, as the configured
account when that account may change the schema (an administrator's URL, an older installation);
otherwise it stops with one sentence saying what to run, and changes nothing.
"""

from __future__ import annotations

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
    itself when its account may, or None."""
    if db.dialect != "mysql":
        return db
    owner = config.owner_database_url(environ)
    if owner is not None:
        return Database(owner)
    if may_change_schema(db):
        return db
    return None


def upgrade_at_start(db: Database, backups: Path, environ: Mapping[str, str]) -> str | None:
    """Bring the schema to the newest revision if needed; the backup path, if one was made."""
    if not needs_upgrade(db):
        return None
    target = schema_database(db, environ)
    if target is None:
        log.error("a schema upgrade is due and only the everyday database account is configured")
        raise OwnerNeeded(OWNER_NEEDED)
    try:
        return upgrade(target, backup_dir=backups)
    finally:
        if target is not db:
            target.dispose()
