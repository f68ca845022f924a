"""Migration 0005_chart_indexes: up and down on SQLite and MariaDB; the chart query reads one slice of the
clustered primary key that replaced those indexes (0009_timeseries_keys)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.engine import Database
from db.migrate import current_revision, downgrade, upgrade


def indexes(db: Database, table: str) -> dict[str, list[str]]:
    return {ix["name"]: list(ix["column_names"]) for ix in sa.inspect(db.engine).get_indexes(table)}


def test_chart_indexes_upgrade_and_downgrade(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db, revision="0005_chart_indexes")
        hr, steps = indexes(db, "heart_rate_samples"), indexes(db, "step_intervals")
        assert hr["ix_hr_chart"] == ["patient_id", "ts_utc", "kind", "vendor", "utc_offset_s", "bpm"]
        assert steps["ix_steps_chart"] == ["patient_id", "start_utc", "utc_offset_s", "steps"]
        assert "ix_hr_patient_ts" not in hr and "ix_steps_patient_start" not in steps
        downgrade(db, "0005_chart_indexes-1")
        assert current_revision(db) != "0005_chart_indexes"
        hr, steps = indexes(db, "heart_rate_samples"), indexes(db, "step_intervals")
        assert hr["ix_hr_patient_ts"] == ["patient_id", "ts_utc"] and "ix_hr_chart" not in hr
        assert steps["ix_steps_patient_start"] == ["patient_id", "start_utc"] and "ix_steps_chart" not in steps
        upgrade(db, revision="0005_chart_indexes")
        assert "ix_hr_chart" in indexes(db, "heart_rate_samples")
        upgrade(db)  # 0009 folds them into the primary key
        assert indexes(db, "heart_rate_samples") == {} and indexes(db, "step_intervals") == {}
    finally:
        db.dispose()


def test_sqlite_answers_the_heart_rate_chart_from_a_primary_key_range(tmp_path) -> None:
    from services.data.charts import ChartService

    db = Database(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    try:
        upgrade(db)
        statements: list[tuple[str, tuple[object, ...]]] = []
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda _c, _cur, stmt, params, _ctx, _many: statements.append((stmt, params)))
        from db.models import Patient

        with db.session() as s:
            s.add(Patient(code="PLAN-1", note="", created_at=dt.datetime(2026, 1, 1)))
        ChartService(db).heart_rate("PLAN-1", dt.date(2026, 11, 1), dt.date(2026, 11, 7))
        chart_sql, params = next(s for s in statements if "heart_rate_samples" in s[0] and "GROUP BY" in s[0])
        with db.engine.connect() as c:
            plan = " ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + chart_sql, params))
        # a range of the clustered primary key (patient, time): no full scan, no temporary index
        assert "USING PRIMARY KEY (patient_id=? AND ts_utc>? AND ts_utc<?)" in plan, plan
    finally:
        db.dispose()
