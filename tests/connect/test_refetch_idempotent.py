"""Downloading the same days again (`refetch=True`) must leave every time-series table exactly as it
was: no extra row, no changed value (per-table content checksums), on SQLite and MariaDB.

The guard is the tables' natural keys (their primary keys since 0009_timeseries_keys), which the
dialect-aware upserts (db/upsert.py) conflict on. `test_the_check_catches_a_missing_unique_key` drops
one such key in this test's own scratch database
and shows the same check then fails, so the check cannot quietly lose its teeth.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, Table
from sqlalchemy.exc import OperationalError

from db.models import MEASUREMENT_TABLES, DeviceSync, StepInterval
from services.sandbox import SandboxServer

from .conftest import connect, table_digest

START, END = dt.date(2026, 11, 19), dt.date(2026, 11, 21)
ACCOUNTS = (("P-F", "fitbit", "anna"), ("P-W", "withings", "emil"), ("P-P", "polar", "hugo"))
TABLES = tuple(str(m.__tablename__) for m in (*MEASUREMENT_TABLES, DeviceSync))


def connect_all(app: Any, srv: SandboxServer) -> None:
    for code, vendor, user in ACCOUNTS:
        assert connect(app, srv, code, vendor, user).ok


def sync(app: Any, refetch: bool) -> None:
    run = app.sync.sync_all(start=START, end=END, refetch=refetch)
    assert run.ok, [r.summary for r in run.results]


def data_calls(srv: SandboxServer) -> set[str]:
    return {c.vendor for c in srv.calls if c.kind == "api" and c.status == 200}


def refetch_changes_nothing(app: Any, srv: SandboxServer) -> None:
    sync(app, refetch=False)
    first = table_digest(app.db, TABLES)
    assert [t for t, (n, _) in first.items() if n == 0] == []  # every table takes part
    srv.clear_calls()
    sync(app, refetch=True)
    assert data_calls(srv) == {"fitbit", "withings", "polar"}  # the days really were downloaded again
    again = table_digest(app.db, TABLES)
    assert {t: again[t] for t in TABLES if again[t] != first[t]} == {}


def test_refetch_of_every_time_series_table_adds_and_changes_nothing(sapp: Any, srv: SandboxServer) -> None:
    connect_all(sapp, srv)
    refetch_changes_nothing(sapp, srv)


def _drop_unique_key(app: Any, model: Any) -> None:
    """In this test's scratch database only: re-create `model`'s (still empty) table with the same columns
    but without its natural key (since 0009_timeseries_keys the primary key; any unique key too)."""
    src: Table = model.__table__
    meta = MetaData()
    copy = Table(src.name, meta, *(Column(c.name, c.type, nullable=c.nullable) for c in src.columns))
    with app.db.engine.begin() as conn:
        src.drop(conn)
        copy.create(conn)


def test_the_check_catches_a_missing_unique_key(sapp: Any, srv: SandboxServer) -> None:
    connect_all(sapp, srv)
    _drop_unique_key(sapp, StepInterval)
    if sapp.db.engine.dialect.name == "sqlite":
        # SQLite's ON CONFLICT needs the key: without it the download cannot even be stored
        with pytest.raises(OperationalError, match="ON CONFLICT clause does not match"):
            sapp.sync.sync_all(start=START, end=END)
        return
    # MariaDB's ON DUPLICATE KEY has nothing to collide with: the re-download duplicates every step
    assert sapp.sync.sync_all(start=START, end=END).ok
    first = table_digest(sapp.db, TABLES)
    assert sapp.sync.sync_all(start=START, end=END, refetch=True).ok
    again = table_digest(sapp.db, TABLES)
    assert again["step_intervals"][0] == 2 * first["step_intervals"][0]
    assert {t for t in TABLES if again[t] != first[t]} == {"step_intervals"}
