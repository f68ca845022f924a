"""Idempotent multi-row upserts for both dialects (SQLite ON CONFLICT, MySQL ON DUPLICATE KEY)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session

CHUNK = 1000


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

    `key` must be the columns of a unique constraint. Writing the same rows twice leaves the table
    exactly as after the first write. Returns the number of rows submitted.
    """
    table = _table(model)
    batch: list[dict[str, Any]] = []
    total = 0
    for row in rows:
        batch.append(dict(row))
        if len(batch) >= CHUNK:
            total += _flush(session, table, batch, key)
            batch = []
    if batch:
        total += _flush(session, table, batch, key)
    return total


def _flush(session: Session, table: Table, batch: list[dict[str, Any]], key: Sequence[str]) -> int:
    """One statement, executed for the whole batch.

    The statement is compiled once and the rows go as executemany parameters: SQLite runs the
    prepared statement per row inside the transaction, and PyMySQL folds an executemany of
    `INSERT ... VALUES (...) ON DUPLICATE KEY UPDATE` into multi-row INSERTs. Compiling a
    1000-row VALUES clause per chunk instead cost more than the database work itself.
    """
    dialect = session.get_bind().dialect.name
    columns = list(batch[0].keys())
    update_cols = [c for c in columns if c not in key and c != "id"]
    if dialect == "sqlite":
        stmt = sqlite_insert(table)
        if update_cols:
            stmt = stmt.on_conflict_do_update(
                index_elements=list(key), set_={c: stmt.excluded[c] for c in update_cols}
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
        session.execute(stmt, batch)
    elif dialect in ("mysql", "mariadb"):
        mstmt = mysql_insert(table)
        # with nothing to update, a self-assignment of the key keeps the statement idempotent
        targets = update_cols or [key[0]]
        mstmt = mstmt.on_duplicate_key_update({c: mstmt.inserted[c] for c in targets})
        session.execute(mstmt, batch)
    else:  # pragma: no cover - only the two supported dialects are used
        raise RuntimeError(f"upsert is not implemented for the {dialect} dialect")
    return len(batch)
