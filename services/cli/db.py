"""`main.py db upgrade|downgrade|current|backup`."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import TYPE_CHECKING, Any

from services import config
from services.cli.common import out
from services.errors import InvalidInput

if TYPE_CHECKING:
    from db.engine import Database


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="create, migrate or back up the database")
    dsub = p.add_subparsers(dest="db_command", required=True, metavar="{upgrade,downgrade,current,backup}")
    up = dsub.add_parser("upgrade", help="create or migrate the schema (a no-op when current)")
    up.add_argument("--revision", default="head", help=argparse.SUPPRESS)
    up.add_argument("--admin-user", default="root",
                    help="MySQL: the admin account to upgrade as when the owner's login is not stored "
                         "(its password is asked for, or read from WEARSYNC_MYSQL_ADMIN_PASSWORD)")
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
    import os

    from db.migrate import current_revision, head_revision, upgrade
    from services.cli.mysql import ADMIN_PASSWORD_ENV as ADMIN_ENV
    from services.cli.mysql import admin_password_available
    from services.schema import schema_database

    db, paths = _db()
    try:
        before = current_revision(db)
        if before == head_revision() and args.revision == "head":
            out(f"Database {db.safe_url()} is up to date (revision {before}).")
            return 0
        target = schema_database(db, os.environ)
        if target is None:  # only WearSync's writer: the admin upgrades, and restricts the accounts
            if not admin_password_available():
                raise InvalidInput(
                    "This upgrade is for the database's owner, and its login is not stored here: run `main.py db "
                    f"upgrade` in a terminal (it asks for the MySQL administrator password) or set {ADMIN_ENV}.")
            _secure_with_admin(db, args.admin_user, paths)
            out(f"Database {db.safe_url()} upgraded from {before or 'empty'} to {current_revision(db)}; "
                "its accounts now have only the privileges they need.")
            return 0
        try:
            backup = upgrade(target, backup_dir=paths.backups, revision=args.revision, now=_now())
        finally:
            if target is not db:
                target.dispose()
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


def _secure_with_admin(db: Database, admin_user: str, paths: config.Paths) -> None:
    """Run the MySQL set-up again for the configured database and accounts (asks for the admin password
    once): creates the owner, restricts the writer and the reader, and migrates as the owner."""
    from sqlalchemy.engine import make_url

    from services.cli.mysql import admin_password
    from services.reach.mysql_setup import DEFAULT_READER, READER_USER_SECRET, AdminLogin, set_up_mysql
    from services.secrets import SecretStore

    url = make_url(db.url)
    admin = AdminLogin(host=url.host or "127.0.0.1", port=url.port or 3306, user=admin_user,
                       password=admin_password())
    store = SecretStore()
    set_up_mysql(admin, database=url.database or "", writer_user=url.username or "",
                 reader_user=store.get(READER_USER_SECRET) or DEFAULT_READER, writer_password=url.password or None,
                 secrets=store, backup_dir=paths.backups, progress=out)


def _downgrade(args: argparse.Namespace) -> int:
    import os

    from db.migrate import UnknownRevision, backup_database, check_revision, current_revision, downgrade
    from services.schema import OWNER_NEEDED, schema_database

    try:
        check_revision(args.revision)  # before anything is written, the backup included
    except UnknownRevision as exc:
        raise InvalidInput(f"{args.revision!r} is not a schema revision. Use one of: base, "
                           f"{', '.join(exc.args[1])}; see main.py db current.") from None
    db, paths = _db()
    try:
        target = schema_database(db, os.environ)
        if target is None:
            raise InvalidInput(OWNER_NEEDED.replace("an upgrade", "a change").replace("db upgrade", "db downgrade"))
        try:
            backup_database(target, paths.backups, _now(), label="before-downgrade")
            downgrade(target, args.revision)
        finally:
            if target is not db:
                target.dispose()
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
