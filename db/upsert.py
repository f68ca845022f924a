"""Idempotent multi-row upserts for both dialects (SQLite ON CONFLICT, MySQL ON DUPLICATE KEY).

The statement is built and compiled by SQLAlchemy once per batch; the rows then go to the driver
with as little Python per value as possible, because at a download's volume (a minute-by-minute
series is 1,440 rows per patient-day) that per-value Python, not the database, was the limit:
- SQLite: one `executemany` of the compiled statement over plain tuples, each value converted by
  the column type's own bind processor (so dates are stored exactly as SQLAlchemy stores them);
- MySQL/MariaDB: multi-row `INSERT ... VALUES (...), (...) ... ON DUPLICATE KEY UPDATE` statements of
  up to ~1 MB, the values written as SQL literals by `_Literals` (integers and naive datetimes
  directly, strings and anything else by the driver's own escaping, which honours the server's
  NO_BACKSLASH_ESCAPES mode), sent without parameters so nothing is interpolated twice.
docs/PERFORMANCE.md has the figures against each database's own bulk load.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter, methodcaller
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session

CHUNK = 5000
MYSQL_STATEMENT_BYTES = 1_000_000  # below every server's max_allowed_packet default (MariaDB/MySQL >= 4 MB)


def _table(model: type[DeclarativeBase] | Table) -> Table:
    if isinstance(model, Table):
        return model
    table = model.__table__
    assert isinstance(table, Table)
    return table


def upsert(
    session: Session,
    model: type[DeclarativeBase] | Table,
    rows: Iterable[Mapping[str, Any]],
    key: Sequence[str],
) -> int:
    """Insert rows, updating the non-key columns of rows whose `key` already exists.

    `key` must be the columns of a unique constraint (or the primary key); the rows of one batch
    (CHUNK rows) name the same columns. Writing the same rows twice leaves the table exactly as after
    the first write. Returns the number of rows submitted.
    """
    table = _table(model)
    data = rows if isinstance(rows, list) else list(rows)
    if not data:
        return 0
    conn = session.connection()
    batches = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    if conn.dialect.name == "sqlite":
        for batch in batches:
            _sqlite(conn, table, batch, key)
    elif conn.dialect.name in ("mysql", "mariadb"):
        _mysql(conn, table, batches, key)
    else:  # pragma: no cover - only the two supported dialects are used
        raise RuntimeError(f"upsert is not implemented for the {conn.dialect.name} dialect")
    return len(data)


def _update_columns(columns: list[str], key: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in key and c != "id"]


def _processors(table: Table, names: Sequence[str], dialect: Dialect) -> list[Callable[[Any], Any] | None]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]


def _sqlite(conn: Connection, table: Table, batch: list[Mapping[str, Any]], key: Sequence[str]) -> None:
    columns = list(batch[0].keys())
    update_cols = _update_columns(columns, key)
    stmt = sqlite_insert(table)
    if update_cols:
        stmt = stmt.on_conflict_do_update(index_elements=list(key),
                                          set_={c: stmt.excluded[c] for c in update_cols})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
    names = list(compiled.positiontup or ())
    assert sorted(names) == sorted(columns), (names, columns)
    procs = _processors(table, names, conn.dialect)
    # column by column: each column's processor mapped over it, then the columns zipped into rows
    columns_in_order = [[r[n] for r in batch] for n in names]
    converted = [list(map(p, col)) if p is not None else col for col, p in zip(columns_in_order, procs, strict=True)]
    conn.exec_driver_sql(compiled.string, list(zip(*converted, strict=True)))


def _mysql(conn: Connection, table: Table, batches: list[list[Mapping[str, Any]]], key: Sequence[str]) -> None:
    """Each batch as multi-row statements, the server writing one while the next is built: a statement
    is sent, the next batch's statements are built, and only then is the first one's answer read
    (`_Sender`), so the Python work and the server's overlap instead of adding up."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    literal = _Literals(dbapi)
    compiled: dict[tuple[str, ...], tuple[str, list[str], str]] = {}
    sender = _Sender(dbapi)
    try:
        for batch in batches:
            columns = tuple(batch[0].keys())
            if columns not in compiled:
                compiled[columns] = _mysql_statement(conn, table, list(columns), key)
            for statement in _mysql_values(batch, *compiled[columns], literal):
                sender.send(statement)  # waits for the previous statement's answer first
        sender.finish()
    except conn.dialect.loaded_dbapi.Error as exc:
        # as SQLAlchemy would raise it (IntegrityError, OperationalError...), naming the statement but
        # not its values; a lost connection is handed back to the pool as lost, as SQLAlchemy does
        statement = next(iter(compiled.values()))[0] + "..." if compiled else "INSERT"
        lost = conn.dialect.is_disconnect(exc, dbapi, sender.cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=conn.dialect) from exc
    finally:
        if sender.pending:  # an error between sending and reading: the connection's state is unknown
            conn.invalidate()
        sender.cursor.close()


class _Sender:
    """Sends statements on one connection with at most one answer outstanding.

    With PyMySQL (the project's driver), a statement is written to the socket and its answer read
    later (`Connection._execute_command` / `_read_query_result`, what `Connection.query` does in one
    go): the caller builds the next statement meanwhile. A thread sending instead would not overlap:
    the builder's long C calls hold the GIL, so the sender could only start when the next statement
    was ready (measured: the server idle during every build). Any other driver: one at a time."""

    def __init__(self, dbapi: Any) -> None:
        self.dbapi = dbapi
        self.cursor = dbapi.cursor()
        self.split = hasattr(dbapi, "_execute_command") and hasattr(dbapi, "_read_query_result")
        self.pending = False

    def send(self, statement: str) -> None:
        if not self.split:
            self.cursor.execute(statement)  # no parameters: the values are literals already
            return
        self.finish()
        from pymysql.constants import COMMAND

        self.pending = True
        self.dbapi._execute_command(COMMAND.COM_QUERY, statement.encode(self.dbapi.encoding))

    def finish(self) -> None:
        """Read the outstanding answer (an error in it is raised here)."""
        if self.pending:
            self.pending = False  # read now: a server error leaves the connection clean, a lost one is lost
            self.dbapi._read_query_result()


def _mysql_statement(conn: Connection, table: Table, columns: list[str],
                     key: Sequence[str]) -> tuple[str, list[str], str]:
    """(head, column order, tail) of `INSERT ... VALUES <rows> ON DUPLICATE KEY UPDATE ...`."""
    mstmt = mysql_insert(table)
    # with nothing to update, a self-assignment of the key keeps the statement idempotent
    targets = _update_columns(columns, key) or [key[0]]
    mstmt = mstmt.on_duplicate_key_update({c: mstmt.inserted[c] for c in targets})
    sql = mstmt.compile(dialect=conn.dialect, column_keys=columns).string
    head, values, tail = _around_values(sql)
    # the order SQLAlchemy gave the columns (the table's), read from its placeholders `%(name)s`
    order = re.findall(r"%\((\w+)\)s", values)
    if sorted(order) != sorted(columns):  # pragma: no cover - pymysql's paramstyle is pyformat
        raise RuntimeError(f"unexpected placeholders in {values!r}")
    return head, order, tail


def _mysql_values(batch: list[Mapping[str, Any]], head: str, order: list[str], tail: str,
                  literal: _Literals) -> list[str]:
    """The batch as statements of up to MYSQL_STATEMENT_BYTES, converted column by column so the common
    types convert in C (map) rather than value by value in Python."""
    texts = [literal.column([r[n] for r in batch]) for n in order]
    groups = list(map("({})".format, map(",".join, zip(*texts, strict=True))))
    statements = []
    first, size = 0, 0
    for i, group in enumerate(groups):
        if i > first and size + len(group) > MYSQL_STATEMENT_BYTES:
            statements.append(head + ",".join(groups[first:i]) + tail)
            first, size = i, 0
        size += len(group) + 1
    statements.append(head + ",".join(groups[first:]) + tail)
    return statements


def _around_values(sql: str) -> tuple[str, str, str]:
    """Split a compiled one-row INSERT into what precedes its row of placeholders, that row, and what
    follows it (`ON DUPLICATE KEY UPDATE ...`, or MySQL 8's `AS new ...`)."""
    start = sql.index(" VALUES (") + len(" VALUES ")
    depth = 0
    for i in range(start, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return sql[:start], sql[start:i + 1], sql[i + 1:]
    raise ValueError("no VALUES row in the compiled INSERT")  # pragma: no cover - SQLAlchemy renders one


class _Literals:
    """Values as MySQL SQL literals: a column of exact integers, naive datetimes or dates directly,
    a column of strings by the driver's own escaping once per distinct string (vendor, kind, stage
    names repeat), and any other column (floats, booleans, NULLs, bytes, aware datetimes, a mix) value
    by value through the driver's escaping."""

    def __init__(self, dbapi: Any) -> None:
        self._escape: Callable[[Any], Any] = dbapi.escape

    def column(self, values: list[Any]) -> list[str]:
        kinds = set(map(type, values))
        if kinds == {int}:
            return list(map(str, values))
        if kinds == {dt.datetime} and set(map(attrgetter("tzinfo"), values)) == {None}:
            return list(map("'{}'".format, map(methodcaller("isoformat", " "), values)))
        if kinds == {dt.date}:
            return list(map("'{}'".format, map(methodcaller("isoformat"), values)))
        if kinds == {str}:
            text = {v: str(self._escape(v)) for v in set(values)}
            return list(map(text.__getitem__, values))
        return [self.one(v) for v in values]

    def one(self, v: Any) -> str:
        return "NULL" if v is None else str(self._escape(v))
