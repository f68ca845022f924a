"""Settings → Database: create WearSync's MySQL/MariaDB database and its three accounts, test a
connection, and switch WearSync over to it.

The seed had people type `GRANT ALL PRIVILEGES ON *.*` and `GRANT SELECT ON *.*` by hand. Here, by
least privilege (db/privileges.py):
- the database is utf8mb4; the **owner** gets ALL on that database only (schema changes: set-up,
  upgrades, the database move); its login is kept apart from the Settings page and never used for
  daily work;
- the **writer** (WearSync every day) gets row-level SELECT/INSERT/UPDATE/DELETE on the data tables
  and only SELECT/INSERT on the audit trail: no DDL, no TRIGGER, no GRANT;
- the **reader** (Grafana) gets SELECT on the measurement, device, coverage and patient-ID tables and
  views only; every earlier grant of the writer and the reader is revoked first (an older
  installation's ALL, the seed's `*.*`);
- names are validated and quoted, passwords travel as bound parameters (PyMySQL escapes them on
  the client, the only form `IDENTIFIED BY` accepts);
- running it again is safe: users are created if missing, passwords and grants are re-applied;
- the syntax (CREATE USER IF NOT EXISTS, ALTER USER ... IDENTIFIED BY) works on MariaDB ≥10.2
  and MySQL 8.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets as pysecrets
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from db import privileges
from services import config
from services.clock import Clock
from services.errors import DatabaseError, InvalidInput, WearSyncError
from services.secrets import SecretStore

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "wearsync"
DEFAULT_WRITER = "wearsync_writer"
DEFAULT_READER = "wearsync_reader"
DEFAULT_OWNER = "wearsync_owner"
OWNER_USER_SECRET = config.OWNER_USER_SECRET
OWNER_PASSWORD_SECRET = config.OWNER_PASSWORD_SECRET
READER_USER_SECRET = "GRAFANA_DB_USER"
READER_PASSWORD_SECRET = "GRAFANA_DB_PASSWORD"
WRITER_USER_SECRET = "SECRET_USER"
WRITER_PASSWORD_SECRET = "SECRET_PASSWORD"

_DB_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_USER_NAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_HOST_NAME = re.compile(r"^[A-Za-z0-9.\-_%:]{1,255}$")
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_CONNECT_TIMEOUT_S = 5

# MySQL/MariaDB client and server error numbers we turn into plain words.
_ACCESS_DENIED = 1045
_DB_ACCESS_DENIED = 1044
_BAD_DB = 1049
_HOST_NOT_ALLOWED = 1130
_PRIVILEGE_ERRORS = (1142, 1143, 1227, 1410, 1396)
_UNREACHABLE = (2002, 2003, 2005, 2006, 2013)


# --------------------------------------------------------------------------- inputs and results


@dataclass(frozen=True)
class AdminLogin:
    """An account allowed to create databases and users (often `root`)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)

    @classmethod
    def from_url(cls, url: str, password: str | None = None) -> AdminLogin:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise InvalidInput(
                "The admin address must look like mysql+pymysql://root@127.0.0.1:3306/."
            ) from None
        if parsed.get_backend_name() != "mysql":
            raise InvalidInput("The admin address must be a MySQL/MariaDB address (mysql+pymysql://...).")
        return cls(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=password if password is not None else (parsed.password or ""),
        )

    def url(self, database: str | None = None) -> URL:
        return _url(self.host, self.port, self.user, self.password, database)


@dataclass(frozen=True)
class MySQLSetupResult:
    """What the set-up made. Passwords are hidden from repr() so a log line cannot leak them."""

    host: str
    port: int
    database: str
    writer_user: str
    writer_password: str = field(repr=False)
    reader_user: str
    reader_password: str = field(repr=False)
    client_hosts: tuple[str, ...]
    reader_hosts: tuple[str, ...]
    server_version: str
    schema_revision: str | None
    created_database: bool
    owner_user: str = DEFAULT_OWNER
    owner_password: str = field(default="", repr=False)

    @property
    def owner_url(self) -> str:
        """The database as its owner (schema changes, the move), password included: keep it out of logs."""
        return _url(self.host, self.port, self.owner_user, self.owner_password, self.database).render_as_string(
            hide_password=False
        )

    @property
    def database_url(self) -> str:
        """A WEARSYNC_DATABASE_URL for the writer, password included: keep it out of logs."""
        return _url(self.host, self.port, self.writer_user, self.writer_password, self.database).render_as_string(
            hide_password=False
        )

    @property
    def config_url(self) -> str:
        """The same address without its password: what wearsync.json stores."""
        return _url(self.host, self.port, self.writer_user, "", self.database).render_as_string(hide_password=False)

    @property
    def reader_url(self) -> str:
        return _url(self.host, self.port, self.reader_user, self.reader_password, self.database).render_as_string(
            hide_password=False
        )

    @property
    def safe_url(self) -> str:
        return self.config_url

    def describe(self) -> str:
        made = "Created" if self.created_database else "Updated"
        return (
            f"{made} database {self.database} on {self.host}:{self.port} ({self.server_version}); "
            f"owner {self.owner_user} can change its tables, writer {self.writer_user} can change its data "
            f"but not the audit trail, reader {self.reader_user} (for Grafana) can only read the measurements."
        )


@dataclass(frozen=True)
class ConnectionCheck:
    """The answer of "Test connection". `problem` is one of: ok, wrong_password, unreachable,
    database_missing, no_privileges, host_not_allowed, unknown."""

    ok: bool
    problem: str
    message: str
    server_version: str | None = None
    schema_revision: str | None = None


class MySQLSetupError(DatabaseError):
    """A set-up step failed; `problem` uses the same words as ConnectionCheck."""

    title = "MySQL set-up"

    def __init__(self, message: str, problem: str = "unknown") -> None:
        super().__init__(message)
        self.problem = problem


# --------------------------------------------------------------------------- validation helpers


def generate_password(length: int = 32) -> str:
    """Strong and URL/shell friendly; always mixes cases, digits and a symbol, so MySQL's
    validate_password policy (MEDIUM/STRONG) accepts it."""
    if length < 12:
        raise InvalidInput("A generated password must be at least 12 characters long.")
    alphabet = string.ascii_letters + string.digits + "-_"
    while True:
        pw = "".join(pysecrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
                and any(c in "-_" for c in pw)):
            return pw


def default_owner(writer_user: str) -> str:
    """The owner's name when none is given: `wearsync_writer` -> `wearsync_owner`, `w1` -> `w1_owner`."""
    base = writer_user.strip()
    base = base[: -len("_writer")] if base.endswith("_writer") else base
    return (base[:26] + "_owner") if base else DEFAULT_OWNER


def check_database_name(name: str) -> str:
    name = name.strip()
    if not _DB_NAME.match(name):
        raise InvalidInput(
            f"{name!r} cannot be used as a database name: use 1 to 64 letters, digits or underscores."
        )
    return name


def check_user_name(name: str, what: str) -> str:
    name = name.strip()
    if not _USER_NAME.match(name):
        raise InvalidInput(f"The {what} name {name!r} must be 1 to 32 letters, digits or underscores.")
    return name


def check_host(host: str) -> str:
    host = host.strip()
    if not _HOST_NAME.match(host):
        raise InvalidInput(
            f"{host!r} is not a host name MySQL accepts for an account (e.g. localhost, 192.168.1.20, %)."
        )
    return host


def check_password(pw: str, what: str) -> str:
    if len(pw) < 12 or any(ord(c) < 32 for c in pw) or pw != pw.strip():
        raise InvalidInput(
            f"The {what} password must be at least 12 characters, without line breaks or leading/trailing spaces."
        )
    return pw


def _url(host: str, port: int, user: str, password: str, database: str | None) -> URL:
    return URL.create(
        "mysql+pymysql",
        username=user,
        password=password or None,
        host=host,
        port=port,
        database=database or None,
        query={"charset": "utf8mb4"},
    )


def _engine(url: URL | str) -> sa.Engine:
    return sa.create_engine(url, connect_args={"connect_timeout": _CONNECT_TIMEOUT_S}, poolclass=sa.NullPool)


def _error_number(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def explain(exc: BaseException, host: str, port: int, user: str, database: str | None) -> tuple[str, str]:
    """(problem, plain message) for a MySQL error."""
    code = _error_number(exc)
    where = f"{host}:{port}"
    if code == _ACCESS_DENIED:
        return "wrong_password", (
            f"MySQL at {where} refused the user name or password for {user!r}. Check both and try again."
        )
    if code in _UNREACHABLE:
        return "unreachable", (
            f"No MySQL server answers at {where}. Check the host and port, and that MySQL/MariaDB is running."
        )
    if code == _BAD_DB:
        return "database_missing", (
            f"The database {database!r} does not exist on {where}. Run the database set-up to create it."
        )
    if code == _DB_ACCESS_DENIED:
        return "no_privileges", (
            f"The account {user!r} may not use the database {database!r} on {where}. "
            "Run the database set-up again to repair its privileges."
        )
    if code == _HOST_NOT_ALLOWED:
        return "host_not_allowed", (
            f"MySQL at {where} does not let {user!r} connect from this computer. Run the set-up with this "
            "computer's address added to the allowed hosts."
        )
    if code in _PRIVILEGE_ERRORS:
        return "no_privileges", (
            f"The account {user!r} lacks a privilege this step needs on {where}. Use an admin account "
            "(with CREATE USER and GRANT OPTION), such as root."
        )
    return "unknown", f"MySQL at {where} reported a problem: {_short(exc)}"


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    if len(args) >= 2:
        return str(args[1])[:200]
    return type(orig).__name__


# --------------------------------------------------------------------------- "Test connection"


def check_connection(url: str) -> ConnectionCheck:
    """Connect with `url` (any WearSync database URL), run a harmless query, and say in plain words
    what is wrong if it fails. Never raises for connection problems."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return ConnectionCheck(False, "unknown", "That is not a database address WearSync understands.")
    if parsed.get_backend_name() == "sqlite":
        return _test_sqlite(url)
    host, port = parsed.host or "localhost", parsed.port or 3306
    user, database = parsed.username or "", parsed.database
    engine = _engine(parsed)
    try:
        with engine.connect() as conn:
            version = str(conn.execute(sa.text("SELECT VERSION()")).scalar())
            revision = None
            if database:
                tables = {r[0] for r in conn.execute(sa.text("SHOW TABLES"))}
                if "alembic_version" in tables:
                    revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        problem, message = explain(exc, host, port, user, database)
        return ConnectionCheck(False, problem, message)
    finally:
        engine.dispose()
    schema = f"schema {revision}" if revision else "no WearSync tables yet"
    where = f"database {database}" if database else "no database selected"
    return ConnectionCheck(True, "ok", f"Connected to {version} at {host}:{port} as {user}, {where} ({schema}).",
                           version, revision)


def _test_sqlite(url: str) -> ConnectionCheck:
    from db.engine import Database
    from db.migrate import current_revision

    db = Database(url)
    try:
        revision = current_revision(db)
    except Exception as exc:
        return ConnectionCheck(False, "unknown", f"The SQLite database cannot be opened: {type(exc).__name__}.")
    finally:
        db.dispose()
    return ConnectionCheck(True, "ok", f"The built-in SQLite database is readable ({db.safe_url()}).",
                           "SQLite", revision)


# --------------------------------------------------------------------------- set-up


def set_up_mysql(
    admin: AdminLogin,
    *,
    database: str = DEFAULT_DATABASE,
    writer_user: str = DEFAULT_WRITER,
    reader_user: str = DEFAULT_READER,
    owner_user: str | None = None,
    writer_password: str | None = None,
    reader_password: str | None = None,
    owner_password: str | None = None,
    client_hosts: Sequence[str] | None = None,
    reader_hosts: Sequence[str] | None = None,
    rotate_passwords: bool = False,
    secrets: SecretStore | None = None,
    migrate: bool = True,
    backup_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
) -> MySQLSetupResult:
    """Create (or repair) the database, the owner, the writer and the reader, migrate the schema as
    the owner, grant the writer and the reader exactly their tables, and store the credentials
    (writer: SECRET_USER/SECRET_PASSWORD; reader: GRAFANA_DB_USER/GRAFANA_DB_PASSWORD; owner: kept
    apart, not on the Settings page). Running it on an older installation restricts its accounts.
    Does not switch WearSync over: call `switch_to_mysql` for that (after
    `db_move.move_database` if the SQLite data should come along).

    Passwords: given ones are used; otherwise the stored ones are kept when they belong to the
    same account (so Grafana keeps working), unless `rotate_passwords`; otherwise new strong ones.
    `client_hosts`: where WearSync connects from (default: this computer as the server sees it);
    `reader_hosts`: where Grafana connects from (default: the same).
    """
    say = progress or (lambda _m: None)
    database = check_database_name(database)
    writer_user = check_user_name(writer_user, "writer")
    reader_user = check_user_name(reader_user, "reader")
    owner_user = check_user_name(owner_user or default_owner(writer_user), "owner")
    if writer_user == reader_user:
        raise InvalidInput("The writer and the reader must be two different accounts.")
    if owner_user in (writer_user, reader_user):
        raise InvalidInput("The owner must be an account of its own, neither the writer nor the reader.")
    if admin.user in (writer_user, reader_user, owner_user):
        raise InvalidInput(
            f"{admin.user!r} is the admin account; choose other names for WearSync's owner, writer and reader."
        )
    store = secrets if secrets is not None else SecretStore()
    store.backend()  # fail now, before anything changes, when no password store is usable
    writer_pw = _choose_password(store, writer_password, writer_user, WRITER_USER_SECRET, WRITER_PASSWORD_SECRET,
                                 rotate_passwords, "writer")
    reader_pw = _choose_password(store, reader_password, reader_user, READER_USER_SECRET, READER_PASSWORD_SECRET,
                                 rotate_passwords, "reader")
    owner_pw = _choose_password(store, owner_password, owner_user, OWNER_USER_SECRET, OWNER_PASSWORD_SECRET,
                                rotate_passwords, "owner")

    say(f"Connecting to {admin.host}:{admin.port} as {admin.user}…")
    engine = _engine(admin.url())
    try:
        with engine.connect() as conn:
            version = str(conn.execute(sa.text("SELECT VERSION()")).scalar())
            hosts = tuple(check_host(h) for h in client_hosts) if client_hosts else _default_hosts(conn)
            rhosts = tuple(check_host(h) for h in reader_hosts) if reader_hosts else hosts
            exists = conn.execute(
                sa.text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :d"), {"d": database}
            ).scalar()
            created = not exists
            say(f"{'Creating' if created else 'Checking'} database {database}…")
            conn.execute(sa.text(
                f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            conn.execute(sa.text(f"ALTER DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
            pattern = _grant_pattern(conn, database)
            say(f"Creating the owner {owner_user}, the writer {writer_user} and the reader {reader_user}…")
            for host in hosts:
                _ensure_user(conn, owner_user, host, owner_pw)
                _revoke_everything(conn, owner_user, host)
                # GRANT OPTION on this database only: an upgrade extends the two grants below to new tables
                conn.execute(sa.text(f"GRANT ALL PRIVILEGES ON `{pattern}`.* TO :u@:h WITH GRANT OPTION"),
                             {"u": owner_user, "h": host})
                _ensure_user(conn, writer_user, host, writer_pw)
                # table by table after the migration; first drop whatever it held (an older set-up's ALL)
                _revoke_everything(conn, writer_user, host)
            for host in rhosts:
                _ensure_user(conn, reader_user, host, reader_pw)
                _revoke_everything(conn, reader_user, host)  # the seed's *.* included
            conn.commit()
    except DBAPIError as exc:
        problem, message = explain(exc, admin.host, admin.port, admin.user, None)
        raise MySQLSetupError(message, problem) from None
    finally:
        engine.dispose()

    result = MySQLSetupResult(
        host=admin.host, port=admin.port, database=database, writer_user=writer_user, writer_password=writer_pw,
        reader_user=reader_user, reader_password=reader_pw, client_hosts=hosts, reader_hosts=rhosts,
        server_version=version, schema_revision=None, created_database=created, owner_user=owner_user,
        owner_password=owner_pw,
    )
    revision = None
    if migrate:
        say("Creating WearSync's tables as the owner…")
        revision = _migrate(result, backup_dir, now)
        say("Giving the writer and the reader exactly their tables…")
        _grant_tables(admin, result)
        say("Checking that the reader can read…")
        check = check_connection(result.reader_url)
        if not check.ok:
            raise MySQLSetupError(f"The reader account was created but cannot connect: {check.message}",
                                  check.problem)
    store.set(WRITER_USER_SECRET, writer_user)
    store.set(WRITER_PASSWORD_SECRET, writer_pw)
    store.set(READER_USER_SECRET, reader_user)
    store.set(READER_PASSWORD_SECRET, reader_pw)
    store.set(OWNER_USER_SECRET, owner_user)
    store.set(OWNER_PASSWORD_SECRET, owner_pw)
    log.info("MySQL set-up done: database %s on %s:%s, writer %s, reader %s",
             database, admin.host, admin.port, writer_user, reader_user)
    return MySQLSetupResult(**{**result.__dict__, "schema_revision": revision})


def _choose_password(store: SecretStore, given: str | None, user: str, user_secret: str, pw_secret: str,
                     rotate: bool, what: str) -> str:
    if given:
        return check_password(given, what)
    if not rotate:
        try:
            stored_user, stored_pw = store.get(user_secret), store.get(pw_secret)
        except WearSyncError:
            stored_user = stored_pw = None
        if stored_user == user and stored_pw:
            return stored_pw
    return generate_password()


def _default_hosts(conn: sa.Connection) -> tuple[str, ...]:
    """This computer as the server sees it; both local spellings when the server is local, because
    a socket login matches 'localhost' and a TCP login to 127.0.0.1 may match '127.0.0.1'."""
    seen = str(conn.execute(sa.text("SELECT SUBSTRING_INDEX(USER(), '@', -1)")).scalar() or "localhost")
    if seen in _LOCAL_HOSTS:
        return ("localhost", "127.0.0.1")
    return (check_host(seen),)


def _grant_pattern(conn: sa.Connection, database: str) -> str:
    """In `GRANT ... ON db.*`, `_` and `%` are wildcards: `wearsync_db` would also match
    `wearsyncXdb`. Escape them, except on MySQL with partial_revokes ON, which takes them literally."""
    literal = False
    try:
        literal = str(conn.execute(sa.text("SELECT @@GLOBAL.partial_revokes")).scalar()) in ("1", "ON")
    except DBAPIError:
        conn.rollback()  # MariaDB has no such variable: wildcards apply
    if literal:
        return database
    return database.replace("_", "\\_").replace("%", "\\%")


def _ensure_user(conn: sa.Connection, user: str, host: str, password: str) -> None:
    params: Mapping[str, Any] = {"u": user, "h": host, "p": password}
    conn.execute(sa.text("CREATE USER IF NOT EXISTS :u@:h IDENTIFIED BY :p"), params)
    conn.execute(sa.text("ALTER USER :u@:h IDENTIFIED BY :p"), params)


def _revoke_everything(conn: sa.Connection, user: str, host: str) -> None:
    conn.execute(sa.text("REVOKE ALL PRIVILEGES, GRANT OPTION FROM :u@:h"), {"u": user, "h": host})


def _grant_tables(admin: AdminLogin, result: MySQLSetupResult) -> None:
    """Name the writer and the reader in the database and grant them their tables (db/privileges.py)."""
    engine = _engine(admin.url(result.database))
    try:
        with engine.begin() as conn:
            privileges.register_accounts(conn, privileges.WRITER, result.writer_user, result.client_hosts)
            privileges.register_accounts(conn, privileges.READER, result.reader_user, result.reader_hosts)
        with engine.connect() as conn:
            privileges.apply_grants(conn)
            conn.commit()
    except DBAPIError as exc:
        problem, message = explain(exc, admin.host, admin.port, admin.user, result.database)
        raise MySQLSetupError(f"Granting the accounts their tables failed. {message}", problem) from None
    finally:
        engine.dispose()


def _migrate(result: MySQLSetupResult, backup_dir: Path | None, now: dt.datetime | None) -> str | None:
    from db.engine import Database
    from db.migrate import current_revision, upgrade

    db = Database(result.owner_url)
    try:
        stamp = now if now is not None else Clock.from_environ(os.environ).utcnow()
        upgrade(db, backup_dir=backup_dir, now=stamp)
        return current_revision(db)
    except DBAPIError as exc:
        problem, message = explain(exc, result.host, result.port, result.owner_user, result.database)
        raise MySQLSetupError(f"Creating the tables failed. {message}", problem) from None
    finally:
        db.dispose()


# --------------------------------------------------------------------------- switching


def switch_to_mysql(result: MySQLSetupResult | str, environ: Mapping[str, str] | None = None) -> Path:
    """Make WearSync open this MySQL database from the next start: writes `database_url` (without
    password) into wearsync.json. The password is read from SECRET_PASSWORD at start-up."""
    url = result.config_url if isinstance(result, MySQLSetupResult) else _strip_password(result)
    check = check_connection(config.with_stored_password(url, os.environ if environ is None else environ))
    if not check.ok:
        raise MySQLSetupError(f"WearSync stays on its current database. {check.message}", check.problem)
    path = config.write_config_file({"database_url": url}, environ)
    log.info("WearSync will use %s from the next start", url)
    return path


def switch_to_sqlite(environ: Mapping[str, str] | None = None) -> Path:
    """Go back to the built-in SQLite database (its data is where it was left)."""
    return config.write_config_file({"database_url": None}, environ)


def configured_database(environ: Mapping[str, str] | None = None) -> str:
    """The database WearSync uses, without password, for display."""
    env = os.environ if environ is None else environ
    if env.get("WEARSYNC_DATABASE_URL"):
        return make_url(env["WEARSYNC_DATABASE_URL"]).render_as_string(hide_password=True)
    url = config.read_config_file(env).get("database_url")
    if isinstance(url, str) and url:
        return url
    return f"sqlite:///{config.paths(env).database}"


def _strip_password(url: str) -> str:
    return make_url(url).set(password=None).render_as_string(hide_password=False)

