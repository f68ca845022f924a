"""Benchmark: the project's bulk upsert against the database's own ceiling, in the same run.

    uv run python -m tests.benchmarks.ingest [--rows N] [--repeat R] [--mysql URL] [--revision REV]

For heart rate and steps (1-minute rows, the bulk of every download), on SQLite and MariaDB, first
write (an empty table) and re-write (the idempotent re-sync of the same rows), it times:
- **upsert**: `db.upsert.upsert`, as the sync writes (one transaction);
- **ceiling**: the fastest way the database itself takes the same rows into the same table:
  MariaDB `LOAD DATA LOCAL INFILE` (`REPLACE` for the re-write) from a tab-separated file, SQLite a raw
  `sqlite3` `executemany` of a plain `INSERT` (`INSERT OR REPLACE` for the re-write).
Preparing the ceiling's input (the file, the tuples) is not timed, as building the row dicts is not
timed for the upsert. Each figure is the best of `--repeat` runs (the host may be shared); the ratio is
upsert / ceiling. Rows go in as a nightly download writes them: day by day, patient after patient.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from db.engine import Database
from db.migrate import upgrade
from db.models import HeartRateSample, Patient, StepInterval
from db.upsert import upsert

PATIENTS = 10
BASE = dt.datetime(2026, 6, 1)


@dataclass(frozen=True)
class Series:
    name: str
    model: type[DeclarativeBase]
    key: tuple[str, ...]
    make: Callable[[int, int, dt.datetime], dict[str, Any]]  # (patient, minute index, ts) -> row


def _hr(p: int, i: int, ts: dt.datetime) -> dict[str, Any]:
    return {"patient_id": p, "vendor": "fitbit", "kind": "sample", "ts_utc": ts, "utc_offset_s": 3600,
            "local_date": (ts + dt.timedelta(hours=1)).date(), "bpm": 55 + (i * 7 + p) % 60}


def _steps(p: int, i: int, ts: dt.datetime) -> dict[str, Any]:
    return {"patient_id": p, "vendor": "fitbit", "start_utc": ts, "end_utc": ts + dt.timedelta(minutes=1),
            "utc_offset_s": 3600, "local_date": (ts + dt.timedelta(hours=1)).date(), "steps": (i * 13 + p) % 120}


SERIES = (
    Series("heart rate", HeartRateSample, ("patient_id", "vendor", "kind", "ts_utc"), _hr),
    Series("steps", StepInterval, ("patient_id", "vendor", "start_utc"), _steps),
)


def rows(series: Series, n: int, patients: int = PATIENTS) -> list[dict[str, Any]]:
    """`n` rows (at least one per patient): whole days of minutes, each day for every patient in turn."""
    per = max(1, n // patients)
    out = []
    for start in range(0, per, 1440):
        for p in range(1, patients + 1):
            for i in range(start, min(start + 1440, per)):
                out.append(series.make(p, i, BASE + dt.timedelta(minutes=i)))
    return out


@dataclass(frozen=True)
class Figure:
    dialect: str
    series: str
    phase: str  # first write | re-write
    rows: int
    upsert_rps: float
    ceiling_rps: float
    ceiling: str
    #: MariaDB: the same statements the upsert sent, built in advance and only executed (no Python
    #: building them): the fastest any SQL-statement path can go, beside the bulk-load ceiling
    sql_rps: float | None = None

    @property
    def ratio(self) -> float:
        return self.upsert_rps / self.ceiling_rps

    @property
    def sql_ratio(self) -> float | None:
        return None if self.sql_rps is None else self.upsert_rps / self.sql_rps

    def line(self) -> str:
        return (f"{self.dialect:<8} {self.series:<11} {self.phase:<12} {self.rows:>9,} rows: "
                f"upsert {self.upsert_rps:>9,.0f} rows/s, {self.ceiling} {self.ceiling_rps:>9,.0f} rows/s, "
                f"ratio {self.ratio:.2f}")


# --------------------------------------------------------------------------- ceilings


def _columns(model: type[DeclarativeBase]) -> list[sa.Column[Any]]:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return list(table.columns)


class _SqliteCeiling:
    name = "raw executemany"

    def __init__(self, db: Database, model: type[DeclarativeBase], data: list[dict[str, Any]]) -> None:
        cols = _columns(model)
        dialect = db.engine.dialect
        # stored exactly as SQLAlchemy stores them
        procs = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in cols]
        self.tuples = [tuple(p(r[c.name]) if p else r[c.name] for c, p in zip(cols, procs, strict=True))
                       for r in data]
        names = ", ".join(c.name for c in cols)
        marks = ", ".join("?" for _ in cols)
        self.sql = {False: f"INSERT INTO {model.__tablename__} ({names}) VALUES ({marks})",
                    True: f"INSERT OR REPLACE INTO {model.__tablename__} ({names}) VALUES ({marks})"}
        self.db = db

    def load(self, rewrite: bool) -> None:
        raw = self.db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.executemany(self.sql[rewrite], self.tuples)
            raw.commit()
        finally:
            raw.close()


class _MysqlCeiling:
    name = "LOAD DATA"

    def __init__(self, url: str, model: type[DeclarativeBase], data: list[dict[str, Any]], tmp: Path) -> None:
        cols = _columns(model)
        self.path = tmp / f"{model.__tablename__}.tsv"
        with self.path.open("w", newline="") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE)
            for r in data:
                w.writerow([_text(r[c.name]) for c in cols])
        self.columns = ", ".join(f"`{c.name}`" for c in cols)
        self.table = model.__tablename__
        # pymysql sends a local file only when the client allows it (the server's local_infile must be ON)
        self.engine = sa.create_engine(url, connect_args={"local_infile": True}, poolclass=sa.NullPool)

    def load(self, rewrite: bool) -> None:
        mode = "REPLACE " if rewrite else ""
        with self.engine.begin() as c:
            c.exec_driver_sql(f"LOAD DATA LOCAL INFILE '{self.path}' {mode}INTO TABLE `{self.table}` "
                              f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({self.columns})")

    def close(self) -> None:
        self.engine.dispose()


class _SentStatements:
    """The statements `db.upsert` sends for these rows, captured once, then executed as they are on one
    connection in one transaction: the server's SQL path with no Python building statements."""

    name = "SQL path"

    def __init__(self, db: Database, model: type[DeclarativeBase], data: list[dict[str, Any]],
                 key: tuple[str, ...]) -> None:
        import db.upsert as upsert_module

        sent: list[str] = []
        real = upsert_module._Sender.send

        def capture(sender: Any, statement: str) -> None:
            sent.append(statement)
            real(sender, statement)

        upsert_module._Sender.send = capture  # type: ignore[method-assign]
        try:
            with db.session() as s:
                upsert(s, model, data, key)
        finally:
            upsert_module._Sender.send = real  # type: ignore[method-assign]
        self.statements = sent
        self.db = db

    def load(self, rewrite: bool) -> None:
        raw = self.db.engine.raw_connection()
        try:
            cur = raw.cursor()
            for statement in self.statements:
                cur.execute(statement)
            raw.commit()
        finally:
            raw.close()


def _text(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)


# --------------------------------------------------------------------------- the measurement


def _empty(db: Database, model: type[DeclarativeBase]) -> None:
    with db.session() as s:
        s.execute(sa.delete(model))


def _count(db: Database, model: type[DeclarativeBase]) -> int:
    with db.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _best(repeat: int, setup: Callable[[], None], work: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        setup()
        t0 = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(url: str, n: int, repeat: int = 1, revision: str = "head") -> list[Figure]:
    db = Database(url)
    dialect = "sqlite" if db.dialect == "sqlite" else "mariadb"
    figures: list[Figure] = []
    try:
        upgrade(db, revision=revision)
        with db.session() as s:
            for p in range(1, PATIENTS + 1):
                s.add(Patient(id=p, code=f"BENCH-{p}", note="", created_at=BASE))
        with tempfile.TemporaryDirectory() as tmp:
            for series in SERIES:
                data = rows(series, n)
                model = series.model

                def do_upsert(model: type[DeclarativeBase] = model, data: list[dict[str, Any]] = data,
                              key: tuple[str, ...] = series.key) -> None:
                    with db.session() as s:
                        upsert(s, model, data, key)

                ceiling: _SqliteCeiling | _MysqlCeiling
                if dialect == "sqlite":
                    ceiling = _SqliteCeiling(db, model, data)
                else:
                    ceiling = _MysqlCeiling(url, model, data, Path(tmp))

                def clear(model: type[DeclarativeBase] = model) -> None:
                    _empty(db, model)

                def keep() -> None:
                    pass

                sql_first = sql_again = None
                try:
                    up_first = _best(repeat, clear, do_upsert)
                    up_again = _best(repeat, keep, do_upsert)
                    assert _count(db, model) == len(data)
                    ce_first = _best(repeat, clear, lambda c=ceiling: c.load(False))
                    ce_again = _best(repeat, keep, lambda c=ceiling: c.load(True))
                    assert _count(db, model) == len(data)
                    if dialect == "mariadb":
                        clear()
                        sent = _SentStatements(db, model, data, series.key)
                        sql_first = len(data) / _best(repeat, clear, lambda t=sent: t.load(False))
                        sql_again = len(data) / _best(repeat, keep, lambda t=sent: t.load(True))
                        assert _count(db, model) == len(data)
                finally:
                    if isinstance(ceiling, _MysqlCeiling):
                        ceiling.close()
                _empty(db, model)
                for phase, up, ce, sql in (("first write", up_first, ce_first, sql_first),
                                           ("re-write", up_again, ce_again, sql_again)):
                    figures.append(Figure(dialect, series.name, phase, len(data), len(data) / up, len(data) / ce,
                                          ceiling.name, sql))
    finally:
        db.dispose()
    return figures


def run_figures(n: int, mysql_admin: str | None, repeat: int = 1, revision: str = "head") -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        figures += measure(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", n, repeat, revision)
    if mysql_admin:
        name = "wearsync_bench_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(mysql_admin, poolclass=sa.NullPool)
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        try:
            figures += measure(mysql_admin.rstrip("/") + "/" + name, n, repeat, revision)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            admin.dispose()
    return figures


def run(n: int, mysql_admin: str | None, repeat: int = 1, revision: str = "head") -> list[str]:
    return [f.line() for f in run_figures(n, mysql_admin, repeat, revision)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="rows per series (default 100,000)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per figure; the best counts (default 2)")
    ap.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306/",
                    help="admin URL of a MariaDB/MySQL server ('' to skip)")
    ap.add_argument("--revision", default="head",
                    help="schema revision to measure, e.g. 0006_privileges for the schema before the "
                         "clustered time-series keys (default: the current one)")
    a = ap.parse_args()
    for line in run(a.rows, a.mysql or None, a.repeat, a.revision):
        print(line, flush=True)


if __name__ == "__main__":
    main()
