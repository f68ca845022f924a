"""Benchmark: every panel query of the provisioned Grafana dashboards, on MariaDB, for one patient
among `patients` x `days` of 1-minute heart rate and steps (prints figures; asserts nothing about speed).

    uv run python -m tests.benchmarks.grafana [--patients 50] [--days 90] [--mysql ADMIN_URL]

The data is the charts benchmark's (tests/benchmarks/charts.py `fill`), in a private database on the
server that is dropped afterwards. Each query is expanded by the project's own Grafana code
(services/reach/grafana_macros.expand_macros: variables, then `$__timeFilter` & co.), for a dashboard
range of 24 hours and of 90 days ending at the data's last day, with `$__interval` as Grafana derives
it (the range over ~1,000 data points, rounded up to a usual step, never below the panel's minimum
interval), and run the way the data source runs it (session time zone UTC, MySQL 8's
ONLY_FULL_GROUP_BY). Each figure is the median of `runs` warm runs, rows fetched.
Targets (issue 15): 24 h < 100 ms, 90 days < 500 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from db.engine import Database
from db.migrate import upgrade
from services.reach.grafana_dashboards import dashboards
from services.reach.grafana_macros import expand_macros, parse_interval
from tests.benchmarks.charts import LAST_DAY, fill

TARGET_MS = {"24 h": 100.0, "90 d": 500.0}
RANGES = (("24 h", dt.timedelta(days=1)), ("90 d", dt.timedelta(days=90)))
NOW = dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time())  # end of the data, as "now"
MAX_DATA_POINTS = 1000
_STEPS = ("1s", "5s", "10s", "15s", "30s", "1m", "5m", "10m", "15m", "30m", "1h", "2h", "3h", "6h", "12h", "1d")


@dataclass(frozen=True)
class PanelTime:
    dashboard: str
    panel: str
    span: str
    rows: int
    median_ms: float
    best_ms: float

    @property
    def ratio(self) -> float:
        return self.median_ms / TARGET_MS[self.span]


def grafana_interval(span: dt.timedelta, minimum: str | None) -> str:
    """`$__interval` for a range: range / max data points, rounded up to a usual step, at least
    the panel's minimum interval (its `interval` field)."""
    raw = span.total_seconds() / MAX_DATA_POINTS
    floor = parse_interval(minimum) if minimum else 0.0
    for step in _STEPS:
        if parse_interval(step) >= max(raw, floor):
            return step
    return _STEPS[-1]


def panel_queries() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(dashboard, 'panel title [refId]', panel, target) for every query of every dashboard."""
    for stem, dash in dashboards().items():
        for panel in dash["panels"]:
            for t in panel["targets"]:
                label = panel["title"] + (f" [{t['refId']}]" if len(panel["targets"]) > 1 else "")
                yield stem.removeprefix("wearsync-"), label, panel, t


def expanded(panel: dict[str, Any], target: dict[str, Any], span: dt.timedelta, patient_row_id: int) -> str:
    sql = expand_macros(target["rawSql"], NOW - span, NOW, grafana_interval(span, panel.get("interval")),
                        {"patient": str(patient_row_id)})
    if "$" in sql:
        raise ValueError(f"unexpanded Grafana syntax left in {panel['title']!r}: {sql}")
    return sql


def time_panels(engine: sa.Engine, patient_row_id: int, runs: int = 5) -> list[PanelTime]:
    """Each panel query at 24 h and 90 days: rows returned, median and best wall ms of `runs` warm runs."""
    out: list[PanelTime] = []
    with engine.connect() as c:
        c.exec_driver_sql("SET time_zone = '+00:00'")  # what the data source's timezone setting does
        c.exec_driver_sql("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ONLY_FULL_GROUP_BY')")
        for span_label, span in RANGES:
            for dash, label, panel, target in panel_queries():
                sql = expanded(panel, target, span, patient_row_id)
                n = len(c.exec_driver_sql(sql).fetchall())  # warm-up
                walls = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    c.exec_driver_sql(sql).fetchall()
                    walls.append((time.perf_counter() - t0) * 1000)
                out.append(PanelTime(dash, label, span_label, n, statistics.median(walls), min(walls)))
    return out


def measure(mysql_admin: str, patients: int, days: int, runs: int = 5) -> tuple[float, int, list[PanelTime]]:
    """(load seconds, rows loaded, panel times) in a private database that is dropped afterwards."""
    name = "wearsync_gbench_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(mysql_admin, poolclass=sa.NullPool)
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE `{name}`"))
    try:
        db = Database(mysql_admin.rstrip("/") + "/" + name)
        try:
            upgrade(db)
            t0 = time.perf_counter()
            n = fill(db, patients, days)
            load_s = time.perf_counter() - t0
            return load_s, n, time_panels(db.engine, (patients + 1) // 2, runs)
        finally:
            db.dispose()
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def table(figures: list[PanelTime]) -> list[str]:
    """One line per panel and range (median beside its target, ratio = median / target), then the
    slowest panel of each range."""
    lines = [f"{'dashboard':<9} {'panel':<38} {'range':<5} {'rows':>6} {'median':>11} {'best':>11} "
             f"{'target':>7} {'ratio':>6}"]
    for f in figures:
        mark = " ok" if f.ratio <= 1 else " MISS"
        lines.append(f"{f.dashboard:<9} {f.panel[:38]:<38} {f.span:<5} {f.rows:>6,} {f.median_ms:>8,.1f} ms "
                     f"{f.best_ms:>8,.1f} ms {TARGET_MS[f.span]:>4.0f} ms {f.ratio:>6.2f}{mark}")
    for span_label, _ in RANGES:
        at = [f for f in figures if f.span == span_label]
        if at:
            worst = max(at, key=lambda f: f.median_ms)
            lines.append(f"slowest at {span_label}: {worst.dashboard} / {worst.panel}, {worst.median_ms:,.1f} ms "
                         f"(ratio {worst.ratio:.2f})")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=50)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306/",
                    help="admin URL of a MariaDB/MySQL server")
    a = ap.parse_args()
    load_s, n, figures = measure(a.mysql, a.patients, a.days, a.runs)
    print(f"{a.patients} patients x {a.days} days, {n:,} rows loaded in {load_s:,.0f} s", flush=True)
    for line in table(figures):
        print(line, flush=True)


if __name__ == "__main__":
    main()
