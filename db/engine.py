"""Engine and session for the one SQLAlchemy URL (SQLite by default, MySQL/MariaDB in production).

db/ reads no clock: the app writes its own timestamps from services/clock.py (never the database
server's `NOW()`/`CURRENT_TIMESTAMP`); `db_time()` turns such a moment into what a column stores."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def db_time(moment: dt.datetime) -> dt.datetime:
    """`moment` as every DATETIME column stores it: naive UTC, second precision (a naive `moment`
    is taken to be UTC already). Pure: "now" comes from the app's clock (services/clock.py)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def create_private_file(path: Path) -> None:
    """Create `path` (if missing) readable by its owner only, before SQLite or gzip opens it; SQLite
    gives its WAL and SHM files the database file's mode. POSIX modes do not apply on Windows."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


def make_engine(url: str, **kw: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
            if not Path(db).exists():
                create_private_file(Path(db))
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False}, **kw)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "mysql":
        query = dict(parsed.query)
        query.setdefault("charset", "utf8mb4")
        parsed = parsed.set(query=query)
        # pre_ping + recycle: a database restart or an idle timeout must not break the next sync
        return create_engine(parsed, pool_pre_ping=True, pool_recycle=1800, **kw)
    return create_engine(url, pool_pre_ping=True, **kw)


# MySQL/MariaDB client errors that mean "the server went away or cannot be reached right now":
# can't connect (2003), gone away (2006), lost during a query (2013), server shutting down (1053)
_LOST_CODES = frozenset({1053, 2003, 2006, 2013})


def connection_lost(exc: BaseException) -> bool:
    """`exc` says the database server went away (restart, failover, network), not that the statement
    was wrong: the transaction was rolled back whole, and the same work may be tried again once the
    server answers. A full disk, a locked file or a constraint violation is not such an error."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    args: tuple[object, ...] = tuple(getattr(exc.orig, "args", None) or ())
    return bool(args) and isinstance(args[0], int) and args[0] in _LOST_CODES


# InnoDB rolled the whole transaction back to break a lock cycle (1213) or gave up waiting for a lock
# (1205): MySQL's documented answer is to run the transaction again. Concurrent downloads of different
# connections insert neighbouring ledger keys, whose gap locks can cross (found by the sync benchmark).
_DEADLOCK_CODES = frozenset({1205, 1213})
DEADLOCK_ATTEMPTS = 4
T = TypeVar("T")


def deadlocked(exc: BaseException) -> bool:
    """`exc` says InnoDB rolled the transaction back over a lock conflict: running it again is safe."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return False
    args: tuple[object, ...] = tuple(getattr(exc.orig, "args", None) or ())
    return bool(args) and isinstance(args[0], int) and args[0] in _DEADLOCK_CODES


def retry_deadlocks(work: Callable[[], T], attempts: int = DEADLOCK_ATTEMPTS) -> T:
    """Run `work` (one whole transaction) again when InnoDB chose it as a deadlock victim."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as exc:
            if attempt == attempts or not deadlocked(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        s = self._sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()

    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)
