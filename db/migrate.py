"""Schema migrations (Alembic), applied at start-up and by `main.py db upgrade`, backup first."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from db.engine import Database, create_private_file
from db.privileges import ACCOUNTS_TABLE, apply_grants_after_upgrade

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako, and every dialect's DDL module with it: about a second of a cold start) is
# imported only when a migration runs; the start-up check reads the revisions without it (issue 15).
log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]+)?=\s*(.+?)\s*$", re.MULTILINE)


def _config(db: Database, connection: Any) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _literal(source: str) -> str | None:
    value = source.strip()
    if value == "None":
        return None
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    raise ValueError(f"not a plain revision name: {source}")


def head_revision() -> str:
    """The newest migration, read from the `revision`/`down_revision` lines of the migration files
    (what Alembic's ScriptDirectory finds, without importing Alembic; a test compares the two)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            name = _literal(found["revision"])
            assert name is not None
            revisions[name] = _literal(found.get("down_revision", "None"))
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def current_revision(db: Database) -> str | None:
    """The revision stamped in the database (None: never migrated), read with one query."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = [str(r) for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()]
    if len(rows) > 1:
        raise RuntimeError(f"the database is stamped with several revisions: {sorted(rows)}")
    return rows[0] if rows else None


def needs_upgrade(db: Database) -> bool:
    return current_revision(db) != head_revision()


def upgrade(db: Database, backup_dir: Path | None = None, revision: str = "head",
            now: dt.datetime | None = None) -> str | None:
    """Bring the schema to `revision`. Returns the backup path made first, if any.

    A no-op (and no backup) when the schema is already current. `now` (the app clock's time; db/
    reads no clock itself) stamps the backup's file name; it is needed when `backup_dir` is given.
    """
    before = current_revision(db)
    if before == head_revision() and revision == "head":
        return None
    backup = None
    if backup_dir is not None and before is not None:
        if now is None:
            raise ValueError("a backup before the upgrade needs the time to stamp it with (pass now=)")
        backup = str(backup_database(db, backup_dir, now, label=f"before-upgrade-from-{before}"))
    from alembic import command

    with db.engine.begin() as conn:
        command.upgrade(_config(db, conn), revision)
    if db.dialect == "mysql":
        with db.engine.begin() as conn:
            apply_grants_after_upgrade(conn)
    log.info("database schema upgraded from %s to %s", before or "empty", current_revision(db))
    return backup


_SCHEMA_PRIVILEGES = ("CREATE", "ALTER")


def may_change_schema(db: Database) -> bool:
    """Whether the account `db` connects as may change the schema (MySQL: ALL, or CREATE and ALTER, on
    this database or on every database). SQLite: always. A writer set up by WearSync may not."""
    if db.dialect != "mysql":
        return True
    try:
        with db.engine.connect() as conn:
            database = str(conn.execute(text("SELECT DATABASE()")).scalar() or "")
            grants = [str(g) for g in conn.execute(text("SHOW GRANTS")).scalars()]
    except DBAPIError:
        return False
    for grant in grants:
        head, _, rest = grant.partition(" ON ")
        scope = rest.split(" TO ", 1)[0].replace("\\", "").strip()
        if scope not in ("*.*", f"`{database}`.*"):
            continue
        privileges = head.removeprefix("GRANT ").upper()
        if "ALL PRIVILEGES" in privileges or all(p in privileges for p in _SCHEMA_PRIVILEGES):
            return True
    return False


class UnknownRevision(ValueError):
    """Raised for a revision name that is not one of the migrations (nor base/head)."""


def check_revision(revision: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    known = {"base", "head", *(r.revision for r in script.walk_revisions())}
    if revision not in known:
        raise UnknownRevision(revision, sorted(known - {"base", "head"}))


def downgrade(db: Database, revision: str) -> None:
    from alembic import command

    with db.engine.begin() as conn:
        command.downgrade(_config(db, conn), revision)


def backup_database(db: Database, backup_dir: Path, now: dt.datetime, label: str = "backup") -> Path:
    """A consistent copy: SQLite's online backup, or a gzip'd JSON dump of every table for MySQL.

    `now` (from the app's clock; naive means UTC) stamps the file name."""
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    moment = now if now.tzinfo is None else now.astimezone(dt.UTC).replace(tzinfo=None)
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    if db.dialect == "sqlite":
        target = backup_dir / f"wearsync-{stamp}-{label}.sqlite3"
        try:
            create_private_file(target)
            raw = db.engine.raw_connection()
            try:
                src = raw.driver_connection
                assert isinstance(src, sqlite3.Connection)
                dst = sqlite3.connect(target)
                try:
                    with dst:
                        src.backup(dst)
                finally:
                    dst.close()
            finally:
                raw.close()
        except BaseException:
            target.unlink(missing_ok=True)  # never leave a half-written backup that looks complete
            raise
        return target
    target = backup_dir / f"wearsync-{stamp}-{label}.json.gz"
    try:
        create_private_file(target)
        with db.engine.connect() as conn, gzip.open(target, "wt", encoding="utf-8") as out:
            for name in inspect(conn).get_table_names():
                if name == ACCOUNTS_TABLE:  # account names only, and the writer may not read them
                    continue
                rows = conn.execute(text(f"SELECT * FROM `{name}`")).mappings()
                for row in rows:
                    out.write(json.dumps({"table": name, "row": dict(row)}, default=str) + "\n")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
