"""Move an existing WearSync database (normally the built-in SQLite file) into MySQL/MariaDB
without losing a row.

How it stays safe:
- the source is never written: a SQLite source is first copied with SQLite's online backup (a
  consistent snapshot, kept in the backups folder), and that copy is what is read and, if its
  schema is older, migrated;
- the target is migrated to the current schema, then every table is copied in foreign-key order,
  in chunks, with its primary keys, inside ONE transaction;
- before that transaction commits, every table is compared on both sides by row count and by a
  checksum of its normalised rows (the same code reads both sides); any difference rolls the whole
  copy back;
- a target that already holds rows is refused unless `overwrite=True` (then its rows are replaced
  in the same transaction); on MySQL, replacing an audit trail needs the owner account (db/privileges.py):
  pass the owner's URL as the target;
- nothing here switches WearSync over; a failure leaves the target as it was, and running again
  works.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from db.engine import Database
from db.migrate import backup_database, upgrade
from db.models import Base
from db.privileges import ACCOUNTS_TABLE, AUDIT_TABLE, ensure_audit_triggers, lift_audit_delete_guard
from services.clock import Clock
from services.errors import Conflict, DatabaseError, InvalidInput

log = logging.getLogger(__name__)

CHUNK = 1000
_MOD = 2**256


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


@dataclass(frozen=True)
class MoveReport:
    source: str
    target: str
    tables: tuple[TableCheck, ...]
    rows_copied: int
    seconds: float
    snapshot: str | None

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    def describe(self) -> str:
        filled = sum(1 for t in self.tables if t.source_rows)
        return (f"Moved {self.rows_copied} rows in {filled} tables from {self.source} to {self.target} in "
                f"{self.seconds:.1f} s; every table's row count and checksum match.")


@dataclass(frozen=True)
class MoveProgress:
    table: str
    table_index: int
    table_count: int
    rows_done: int
    rows_total: int


class MoveFailed(DatabaseError):
    title = "Moving the data failed"


def tables_in_order() -> list[sa.Table]:
    """Parents before children, so foreign keys hold at every insert."""
    return list(Base.metadata.sorted_tables)


# --------------------------------------------------------------------------- fingerprints


def _normalise(value: Any) -> Any:
    """One spelling per value whatever the driver returns (bool/1, bytes/memoryview, ...)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "b:" + bytes(value).hex()
    return str(value)


def fingerprint(conn: sa.Connection, table: sa.Table) -> tuple[int, str]:
    """(row count, checksum) of a table. The checksum is the sum of the SHA-256 of each normalised
    row, modulo 2**256: the same as hashing the sorted rows (order plays no part, duplicates count),
    but streaming, so a large table needs no sorting in memory."""
    total = 0
    count = 0
    result = conn.execute(sa.select(*table.columns))
    for row in result:
        encoded = json.dumps([_normalise(v) for v in row], separators=(",", ":"), ensure_ascii=False)
        total = (total + int.from_bytes(hashlib.sha256(encoded.encode("utf-8")).digest(), "big")) % _MOD
        count += 1
    return count, f"{total:064x}"


# --------------------------------------------------------------------------- the move


def move_database(
    source_url: str,
    target_url: str,
    *,
    overwrite: bool = False,
    chunk_size: int = CHUNK,
    backup_dir: Path | None = None,
    progress: Callable[[MoveProgress], None] | None = None,
    now: dt.datetime | None = None,
) -> MoveReport:
    """Copy every row of `source_url` into `target_url` (see the module docstring). Returns a report
    whose `ok` is always True (a mismatch raises MoveFailed and the target is left as it was).
    `now` (the app clock's time) stamps the snapshot; without it a clock is read from the environment."""
    if chunk_size < 1:
        raise InvalidInput("The chunk size must be at least 1.")
    if make_url(target_url).get_backend_name() == make_url(source_url).get_backend_name() == "sqlite" and (
            make_url(target_url).database == make_url(source_url).database):
        raise InvalidInput("The source and the target are the same database.")
    parsed_source = make_url(source_url)
    if parsed_source.get_backend_name() == "sqlite" and not Path(parsed_source.database or "").is_file():
        raise InvalidInput(f"There is no WearSync database at {parsed_source.database} to move.")
    started = time.monotonic()
    source = Database(source_url)
    snapshot_dir: tempfile.TemporaryDirectory[str] | None = None
    snapshot: Path | None = None
    try:
        if source.dialect == "sqlite":
            if backup_dir is None:
                snapshot_dir = tempfile.TemporaryDirectory(prefix="wearsync-move-")
            stamp = now if now is not None else Clock.from_environ(os.environ).utcnow()
            snapshot = backup_database(source, backup_dir or Path(snapshot_dir.name), stamp,  # type: ignore[union-attr]
                                       label="before-move-to-mysql")
            source.dispose()
            source = Database(f"sqlite:///{snapshot}")
        upgrade(source)
        _refuse_unknown_tables(source)
        target = Database(target_url)
        try:
            upgrade(target)
            checks, copied = _copy_all(source, target, overwrite, chunk_size, progress)
        finally:
            target.dispose()
    except DBAPIError as exc:
        raise MoveFailed(
            f"Nothing was changed in the target: the copy stopped with a database error "
            f"({_db_error(exc)}). Fix the cause and run the move again."
        ) from None
    finally:
        source.dispose()
        if snapshot_dir is not None:
            snapshot_dir.cleanup()
    report = MoveReport(
        source=make_url(source_url).render_as_string(hide_password=True),
        target=make_url(target_url).render_as_string(hide_password=True),
        tables=tuple(checks), rows_copied=copied, seconds=time.monotonic() - started,
        snapshot=str(snapshot) if snapshot is not None and backup_dir is not None else None,
    )
    log.info("database move done: %s rows, %s tables", copied, len(checks))
    return report


def _copy_all(source: Database, target: Database, overwrite: bool, chunk_size: int,
              progress: Callable[[MoveProgress], None] | None) -> tuple[list[TableCheck], int]:
    tables = tables_in_order()
    with source.engine.connect() as sconn, target.engine.connect() as tconn:
        if target.dialect == "mysql":
            # a value that does not fit must stop the move, never be silently cut
            tconn.execute(sa.text("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')"))
            tconn.commit()
        filled = _non_empty(tconn, tables)
        tconn.rollback()
        if filled and not overwrite:
            raise Conflict(
                "The target database already holds data (tables: " + ", ".join(filled[:5]) +
                (", …" if len(filled) > 5 else "") + "). Nothing was copied. Choose an empty database, "
                "or confirm that its data may be replaced."
            )
        lifted = False
        if AUDIT_TABLE in filled and target.dialect == "mysql":
            # Replacing the audit trail is the owner's alone: only an account with the TRIGGER
            # privilege may lift the trigger (a DDL statement, so outside the copy's transaction),
            # and it is put back whatever happens.
            try:
                lift_audit_delete_guard(tconn)
                tconn.commit()
            except DBAPIError:
                raise MoveFailed(
                    "Nothing was copied: replacing the data in the target, audit trail included, is for the "
                    "database's owner account, and this account is not it. Run the move from the database "
                    "set-up (it uses the owner), or choose an empty database."
                ) from None
            lifted = True
        try:
            with tconn.begin():
                for table in reversed(tables):
                    if table.name in filled:
                        tconn.execute(table.delete())
                copied = 0
                for index, table in enumerate(tables):
                    copied += _copy_table(sconn, tconn, table, index, len(tables), chunk_size, progress)
                checks = []
                for table in tables:
                    s_count, s_sum = fingerprint(sconn, table)
                    t_count, t_sum = fingerprint(tconn, table)
                    checks.append(TableCheck(table.name, s_count, t_count, s_sum, t_sum))
                bad = [c for c in checks if not c.ok]
                if bad:
                    detail = "; ".join(f"{c.table}: {c.source_rows} rows vs {c.target_rows}" +
                                       ("" if c.source_rows != c.target_rows else " with different values")
                                       for c in bad)
                    raise MoveFailed(
                        f"The copy did not match the original ({detail}), so it was undone and WearSync stays "
                        "on its current database. This can happen when a value does not fit MySQL's column "
                        "(e.g. times with fractions of a second). Nothing was lost."
                    )
        finally:
            if lifted:
                ensure_audit_triggers(tconn)
                tconn.commit()
    return checks, copied


def _copy_table(sconn: sa.Connection, tconn: sa.Connection, table: sa.Table, index: int, count: int,
                chunk_size: int, progress: Callable[[MoveProgress], None] | None) -> int:
    total = sconn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    done = 0
    if progress:
        progress(MoveProgress(table.name, index, count, 0, total))
    if not total:
        return 0
    result = sconn.execute(sa.select(*table.columns).order_by(*table.primary_key.columns))
    while rows := result.fetchmany(chunk_size):
        tconn.execute(table.insert(), [dict(r._mapping) for r in rows])
        done += len(rows)
        if progress:
            progress(MoveProgress(table.name, index, count, done, total))
    return done


def _non_empty(conn: sa.Connection, tables: Iterable[sa.Table]) -> list[str]:
    return [t.name for t in tables if conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first()]


def _refuse_unknown_tables(source: Database) -> None:
    known = {t.name for t in tables_in_order()} | {"alembic_version", ACCOUNTS_TABLE}
    extra = sorted(set(sa.inspect(source.engine).get_table_names()) - known)
    if extra:
        raise InvalidInput(
            "The source database has tables this version of WearSync does not know ("
            + ", ".join(extra) + "); moving would leave them behind. Update WearSync first."
        )


def _db_error(exc: DBAPIError) -> str:
    args: Sequence[Any] = getattr(exc.orig, "args", ())
    if len(args) >= 2:
        return f"{args[0]}: {str(args[1])[:160]}"
    return type(exc.orig).__name__
