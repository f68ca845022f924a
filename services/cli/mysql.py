"""`main.py mysql setup|test|move|use-sqlite`: Settings → Database from the command line.

The admin password is never a command-line argument (it would show in the process list): it is
read from WEARSYNC_MYSQL_ADMIN_PASSWORD, or asked for when a terminal is attached.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from services.cli.common import audit_host, out

ADMIN_PASSWORD_ENV = "WEARSYNC_MYSQL_ADMIN_PASSWORD"


def register(sub: Any) -> None:
    p = sub.add_parser("mysql", help="set up MySQL/MariaDB, test the connection, move the data there")
    ms = p.add_subparsers(dest="mysql_command", required=True, metavar="{setup,test,move,use-sqlite}")
    st = ms.add_parser("setup", help="create the database, a writer and a read-only user, and switch to it")
    st.add_argument("--admin-url",
                    help="e.g. mysql+pymysql://root@127.0.0.1:3306/ (instead of --host/--port/--admin-user)")
    st.add_argument("--host", default="127.0.0.1")
    st.add_argument("--port", type=int, default=3306)
    st.add_argument("--admin-user", default="root")
    st.add_argument("--database", default="wearsync")
    st.add_argument("--writer", default="wearsync_writer", help="account WearSync writes with")
    st.add_argument("--reader", default="wearsync_reader", help="read-only account for Grafana")
    st.add_argument("--owner", default=None,
                    help="account for schema changes (upgrades, moves); default: the writer's name with _owner")
    st.add_argument("--client-host", action="append", default=[], metavar="HOST",
                    help="where WearSync connects from, as MySQL sees it (default: this computer); repeatable")
    st.add_argument("--reader-host", action="append", default=[], metavar="HOST",
                    help="where Grafana connects from (default: as --client-host); repeatable")
    st.add_argument("--rotate-passwords", action="store_true", help="make new passwords even if stored ones work")
    st.add_argument("--move-data", action="store_true", help="copy the data of the built-in SQLite database over")
    st.add_argument("--overwrite", action="store_true", help="with --move-data: replace data already in MySQL")
    st.add_argument("--no-switch", action="store_true", help="prepare MySQL but keep WearSync on its database")
    st.set_defaults(func=_setup)
    te = ms.add_parser("test", help="test the connection to WearSync's database (or to URL)")
    te.add_argument("url", nargs="?")
    te.set_defaults(func=_test)
    mv = ms.add_parser("move", help="copy the built-in SQLite database into the configured MySQL database")
    mv.add_argument("--overwrite", action="store_true", help="replace data already in MySQL")
    mv.add_argument("--admin-user", default="root",
                    help="when the owner's login is not stored: the admin account to move as (password asked)")
    mv.set_defaults(func=_move)
    ms.add_parser("use-sqlite", help="switch WearSync back to its built-in SQLite database").set_defaults(
        func=_use_sqlite)


def admin_password() -> str:
    if os.environ.get(ADMIN_PASSWORD_ENV) is not None:
        return os.environ[ADMIN_PASSWORD_ENV]
    if sys.stdin.isatty():
        return getpass.getpass("MySQL admin password (empty for none): ")
    return ""


def admin_password_available() -> bool:
    return os.environ.get(ADMIN_PASSWORD_ENV) is not None or sys.stdin.isatty()


def schema_url(admin_user: str, what: str) -> str:
    """The configured MySQL database as an account that may change it: the owner whose login the
    set-up stored, else the admin (password asked for, or WEARSYNC_MYSQL_ADMIN_PASSWORD)."""
    from sqlalchemy.engine import make_url

    from services import config
    from services.errors import InvalidInput

    owner = config.owner_database_url()
    if owner is not None:
        return owner
    if not admin_password_available():
        raise InvalidInput(f"{what} needs the MySQL administrator password: set {ADMIN_PASSWORD_ENV} or run "
                           "this in a terminal, which asks for it.")
    url = make_url(config.database_url()).set(username=admin_user, password=admin_password() or None)
    return url.render_as_string(hide_password=False)


def _setup(args: argparse.Namespace) -> int:
    from services import config
    from services.reach.db_move import move_database
    from services.reach.mysql_setup import AdminLogin, set_up_mysql, switch_to_mysql

    password = admin_password()
    if args.admin_url:
        admin = AdminLogin.from_url(args.admin_url, password or None)
    else:
        admin = AdminLogin(host=args.host, port=args.port, user=args.admin_user, password=password)
    paths = config.paths().ensure()
    result = set_up_mysql(admin, database=args.database, writer_user=args.writer, reader_user=args.reader,
                          owner_user=args.owner, client_hosts=args.client_host or None,
                          reader_hosts=args.reader_host or None, rotate_passwords=args.rotate_passwords,
                          backup_dir=paths.backups, progress=out)
    out(result.describe())
    out("The passwords are in the password store as SECRET_USER/SECRET_PASSWORD (writer) and "
        "GRAFANA_DB_USER/GRAFANA_DB_PASSWORD (reader); the owner's is kept apart, for upgrades only.")
    if args.move_data:
        report = move_database(f"sqlite:///{paths.database}", result.owner_url, overwrite=args.overwrite,
                               backup_dir=paths.backups)
        out(report.describe())
    if args.no_switch:
        out("WearSync stays on its current database (--no-switch).")
    else:
        switch_to_mysql(result)
        out(f"WearSync uses {result.config_url} from its next start.")
        audit_host("database.switch", result.config_url, "moved SQLite data" if args.move_data else "")
    return 0


def _test(args: argparse.Namespace) -> int:
    from services import config
    from services.errors import DatabaseError
    from services.reach.mysql_setup import check_connection

    check = check_connection(args.url or config.database_url())
    if not check.ok:
        raise DatabaseError(check.message)
    out(check.message)
    return 0


def _move(args: argparse.Namespace) -> int:
    from services import config
    from services.errors import InvalidInput
    from services.reach.db_move import move_database

    if config.database_url().startswith("sqlite"):
        raise InvalidInput("WearSync is not set up with MySQL yet: run `main.py mysql setup` first.")
    target = schema_url(args.admin_user, "Moving the data")
    report = move_database(f"sqlite:///{config.paths().ensure().database}", target, overwrite=args.overwrite,
                           backup_dir=config.paths().backups, progress=None)
    out(report.describe())
    audit_host("database.move", report.target, f"{report.rows_copied} rows")
    return 0


def _use_sqlite(args: argparse.Namespace) -> int:
    from services import config
    from services.reach.mysql_setup import switch_to_sqlite

    switch_to_sqlite()
    out(f"WearSync uses its built-in database {config.paths().database} from its next start.")
    return 0
