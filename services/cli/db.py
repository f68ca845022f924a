"""`main.py db upgrade|downgrade|current|backup`."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import TYPE_CHECKING, Any

from services import config
from services.cli.common import out

if TYPE_CHECKING:
    from db.engine import Database


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="create, migrate or back up the database")
    dsub = p.add_subparsers(dest="db_command", required=True, metavar="{upgrade,downgrade,current,backup}")
    up = dsub.add_parser("upgrade", help="create or migrate the schema (a no-op when current)")
    up.add_argument("--revision", default="head", help=argparse.SUPPRESS)
    up.set_defaults(func=_upgrade)
    down = dsub.add_parser("downgrade", help="migrate the schema back to REVISION (base = empty)")
    down.add_argument("revision")
    down.set_defaults(func=_downgrade)
    dsub.add_parser("current", help="print the schema revision").set_defaults(func=_current)
    dsub.add_parser("backup", help="write a backup into the data directory").set_defaults(func=_backup)


def _db() -> tuple[Database, config.Paths]:
    from db.engine import Database

    paths = config.paths().ensure()
    return Database(config.database_url()), paths


def _now() -> dt.datetime:
    """The host's clock for a command that opens no app (see services/clock.py)."""
    from services.clock import Clock

    return Clock.from_environ(os.environ).utcnow()


def _upgrade(args: argparse.Namespace) -> int:
    from db.migrate import current_revision, upgrade

    db, paths = _db()
    try:
        before = current_revision(db)
        backup = upgrade(db, backup_dir=paths.backups, revision=args.revision, now=_now())
        after = current_revision(db)
        if before == after:
            out(f"Database {db.safe_url()} is up to date (revision {after}).")
        else:
            out(f"Database {db.safe_url()} upgraded from {before or 'empty'} to {after}.")
            if backup:
                out(f"Backup made first: {backup}")
    finally:
        db.dispose()
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    from db.migrate import UnknownRevision, backup_database, check_revision, current_revision, downgrade
    from services.errors import InvalidInput

    try:
        check_revision(args.revision)  # before anything is written, the backup included
    except UnknownRevision as exc:
        raise InvalidInput(f"{args.revision!r} is not a schema revision. Use one of: base, "
                           f"{', '.join(exc.args[1])}; see main.py db current.") from None
    db, paths = _db()
    try:
        backup_database(db, paths.backups, _now(), label="before-downgrade")
        downgrade(db, args.revision)
        out(f"Database {db.safe_url()} is at revision {current_revision(db) or 'base (empty)'}.")
    finally:
        db.dispose()
    return 0


def _current(args: argparse.Namespace) -> int:
    from db.migrate import current_revision, head_revision

    db, _ = _db()
    try:
        cur = current_revision(db)
        out(f"{cur or 'empty'} (latest: {head_revision()})")
    finally:
        db.dispose()
    return 0


def _backup(args: argparse.Namespace) -> int:
    from db.migrate import backup_database

    db, paths = _db()
    try:
        out(str(backup_database(db, paths.backups, _now())))
    finally:
        db.dispose()
    return 0
