"""Benchmark: bulk upsert throughput on SQLite and MariaDB (prints figures; asserts nothing on speed).

    uv run python -m tests.benchmarks.ingest [--rows N] [--mysql URL]

A day of one Fitbit patient is about 1,440 heart-rate samples + 1,440 step intervals; 200 patients
are about 576,000 rows a day. The figure to watch is rows per second on each dialect, first write
(inserts) and re-write (the idempotent re-sync: updates that change nothing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from db.engine import Database
from db.migrate import upgrade
from db.models import HeartRateSample, Patient
from db.upsert import upsert

KEY = ["patient_id", "vendor", "kind", "ts_utc"]


def rows(n: int, patients: int = 10) -> list[dict]:
    base = dt.datetime(2026, 11, 1)
    per = max(1, n // patients)
    out = []
    for p in range(1, patients + 1):
        for i in range(per):
            ts = base + dt.timedelta(minutes=i)
            out.append({"patient_id": p, "vendor": "fitbit", "kind": "sample", "ts_utc": ts,
                        "utc_offset_s": 3600, "local_date": (ts + dt.timedelta(hours=1)).date(),
                        "bpm": 55 + (i * 7 + p) % 60})
    return out


def measure(url: str, n: int) -> dict[str, float]:
    db = Database(url)
    upgrade(db)
    with db.session() as s:
        for p in range(1, 11):
            s.add(Patient(id=p, code=f"BENCH-{p}", note="", created_at=dt.datetime(2026, 1, 1)))
    data = rows(n)
    figures = {}
    for label in ("insert", "re-sync"):
        t0 = time.perf_counter()
        with db.session() as s:
            upsert(s, HeartRateSample, data, KEY)
        figures[label] = len(data) / (time.perf_counter() - t0)
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample)) == len(data)
    db.dispose()
    return figures


def _line(dialect: str, n: int, f: dict[str, float]) -> str:
    return f"{dialect:<8} {n:>8,} rows: insert {f['insert']:>10,.0f} rows/s, re-sync {f['re-sync']:>10,.0f} rows/s"


def run(n: int, mysql_admin: str | None) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        f = measure(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", n)
        lines.append(_line("sqlite", n, f))
    if mysql_admin:
        name = "wearsync_bench_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(mysql_admin)
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE `{name}`"))
        try:
            f = measure(mysql_admin.rstrip("/") + "/" + name, n)
            lines.append(_line("mariadb", n, f))
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f"DROP DATABASE `{name}`"))
            admin.dispose()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306/",
                    help="admin URL of a MariaDB/MySQL server ('' to skip)")
    a = ap.parse_args()
    for line in run(a.rows, a.mysql or None):
        print(line)


if __name__ == "__main__":
    main()
