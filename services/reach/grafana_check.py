"""Run every dashboard query the way Grafana would (macros expanded, session time zone UTC) as the
read-only account, so a coordinator can see the dashboards will work before opening Grafana."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from services.reach.grafana_dashboards import PATIENT_VARIABLE_SQL, dashboards
from services.reach.grafana_macros import expand_macros


@dataclass(frozen=True)
class QueryCheck:
    dashboard: str
    panel: str
    ref: str
    ok: bool
    rows: int
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.dashboard} / {self.panel} [{self.ref}]: {self.message}"


def check_dashboard_queries(reader_url: str, patient: str | None = None, days: int = 7,
                            *, now: dt.datetime) -> list[QueryCheck]:
    """One result per panel query. `patient`: a patient ID (default: the first listed); the queries get
    its row id, as Grafana's patient variable does. `now` (the app clock's, naive UTC) ends the time
    range the panels are asked for."""
    end = now.replace(tzinfo=dt.UTC)
    start = end - dt.timedelta(days=days)
    engine = sa.create_engine(reader_url, poolclass=sa.NullPool, connect_args={"connect_timeout": 5})
    results: list[QueryCheck] = []
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SET time_zone = '+00:00'"))
            if patient is None:
                row_id = conn.exec_driver_sql(PATIENT_VARIABLE_SQL).scalar()
            else:
                row_id = conn.execute(sa.text("SELECT id FROM patient_ids WHERE code = :c AND deleted_at IS NULL"),
                                      {"c": patient}).scalar()
            patient = str(row_id or 0)
            for dash in dashboards().values():
                for panel in dash["panels"]:
                    for target in panel["targets"]:
                        sql = expand_macros(target["rawSql"], start, end, panel.get("interval", "1m"),
                                            {"patient": patient})
                        try:
                            rows = len(conn.exec_driver_sql(sql).fetchall())
                        except DBAPIError as exc:
                            conn.rollback()
                            args: tuple[object, ...] = tuple(getattr(exc.orig, "args", ()))
                            detail = str(args[1]) if len(args) > 1 else type(exc.orig).__name__
                            results.append(QueryCheck(dash["title"], panel["title"], target["refId"], False, 0,
                                                      f"the query failed: {detail[:200]}"))
                            continue
                        results.append(QueryCheck(dash["title"], panel["title"], target["refId"], True, rows,
                                                  f"{rows} rows" if rows else "runs; no data in this period"))
    finally:
        engine.dispose()
    return results
