"""One plain sentence for failures that are not WearSync's own errors: a bad or unreachable database
address, a damaged SQLite file, a read-only data folder, a full disk, an unexpected bug.

The command line prints the sentence (one line, no traceback); the details go to the log file only.
"""

from __future__ import annotations

import errno
import logging
import sqlite3

from services.errors import WearSyncError

log = logging.getLogger(__name__)

_DB_URL_HINT = ("it must look like sqlite:///path/to/file.sqlite3 or mysql+pymysql://user@host/wearsync "
                "(WEARSYNC_DATABASE_URL, or Settings → Database)")


# MySQL/MariaDB: "the table is full" (1114: InnoDB found no room in its files), "disk full" (1021)
_MYSQL_FULL = frozenset({1021, 1114})


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def _safe_url(url: str | None) -> str:
    if not url:
        return "the configured database"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"


def _current_url() -> str | None:
    try:
        from services import config

        return config.database_url()
    except Exception:
        return None


def _sqlite_text(text: str, where: str) -> str | None:
    low = text.lower()
    if "file is not a database" in low or "malformed" in low or "not a database" in low:
        return (f"The database file {where} is damaged or is not a WearSync database. Restore a copy from "
                "the backups folder in the data folder, or move the file away to start with an empty one.")
    if "disk is full" in low or "database or disk is full" in low:
        return f"The disk is full, so WearSync could not write to {where}. Free some space and try again."
    if "readonly" in low or "read-only" in low:
        return (f"WearSync may not write to {where} (the file or its folder is read-only). Make the data "
                "folder writable for this user and try again.")
    if "unable to open database file" in low:
        return (f"WearSync cannot open or create {where}: its folder is missing, read-only or full. Check "
                "the data folder (WEARSYNC_HOME) and try again.")
    if "disk i/o error" in low:
        return (f"Writing to {where} failed (the disk may be full, read-only or failing). Free some space or "
                "check the disk and try again.")
    return None


def _oserror(exc: OSError) -> str:
    where = exc.filename if exc.filename else "a file in the data folder"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EFBIG):
        return f"The disk is full, so WearSync could not write {where}. Free some space and try again."
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (f"WearSync may not write to {where} (read-only or not allowed for this user). Make the data "
                "folder writable and try again.")
    if exc.errno == errno.EISDIR:
        return f"{where} is a folder; give a file name instead."
    if exc.errno == errno.ENOTDIR:
        return f"{where} is a file where a folder is needed; choose another place."
    return f"A file operation failed ({exc.strerror or type(exc).__name__}: {where})."


def describe(exc: BaseException) -> str | None:
    """The sentence for a known kind of failure, or None."""
    if isinstance(exc, WearSyncError):
        return one_line(exc.message)
    import sqlalchemy.exc as sa_exc

    url = _current_url()
    if isinstance(exc, sa_exc.ArgumentError):  # includes NoSuchModuleError (unknown driver)
        return one_line(f"The database address is not valid: {_DB_URL_HINT}.")
    if isinstance(exc, sa_exc.DBAPIError):
        orig = exc.orig
        args = getattr(orig, "args", None)
        text = one_line(str(args[-1] if args else orig))
        if url and url.startswith("sqlite"):
            known = _sqlite_text(text, _safe_url(url).removeprefix("sqlite:///"))
            if known:
                return known
        code = args[0] if args and isinstance(args[0], int) else None
        if code in _MYSQL_FULL and url and url.startswith("mysql"):
            return one_line(f"The database server {_safe_url(url)} ran out of space ({text[:120]}). Free space on "
                            "its disk (or ask its administrator to), then try again; what was already saved is kept.")
        if isinstance(exc, sa_exc.OperationalError) and url and url.startswith("mysql"):
            return one_line(f"Cannot use the database {_safe_url(url)}: {text[:160]}. Check that the server "
                            "is running, the address, user and password are right, and the database exists.")
        return one_line(f"The database refused the operation ({text[:160]}).")
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return one_line(f"The database could not be used ({type(exc).__name__}: {str(exc)[:160]}).")
    if isinstance(exc, sqlite3.Error):
        known = _sqlite_text(str(exc), "the database file")
        return known or one_line(f"The database could not be used ({str(exc)[:160]}).")
    if isinstance(exc, OSError):
        return one_line(_oserror(exc))
    try:
        from alembic.util import CommandError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, CommandError):
        return one_line(f"The database schema could not be changed: {str(exc)[:200]}")
    return None


def unexpected(exc: BaseException) -> str:
    has_file = any(getattr(h, "_wearsync", False) and hasattr(h, "baseFilename")
                   for h in logging.getLogger().handlers)
    where = "the details are in WearSync's log file" if has_file else "run it again to see if it repeats"
    return f"The command stopped on an unexpected error ({type(exc).__name__}); {where}."
