"""Migration 0009_timeseries_keys: the time series keyed by (patient, time, ...) as their clustered
primary key, on SQLite and MariaDB, with data, up and down; upserts and deletion keep working."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from db.engine import Database
from db.migrate import MIGRATIONS, current_revision, downgrade, head_revision, upgrade
from db.models import Base, HeartRateSample, StepInterval
from db.upsert import upsert

REVISION = "0009_timeseries_keys"
NEW_KEYS = {
    "heart_rate_samples": ["patient_id", "ts_utc", "kind", "vendor"],
    "step_intervals": ["patient_id", "start_utc", "vendor"],
    "resting_heart_rate": ["patient_id", "local_date", "vendor"],
    "sleep_stages": ["patient_id", "start_utc", "vendor"],
    "respiratory_samples": ["patient_id", "ts_utc", "vendor"],
    "snoring_samples": ["patient_id", "ts_utc", "vendor"],
}


def _before() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg).get_revision(REVISION)
    assert script is not None and isinstance(script.down_revision, str)
    return script.down_revision


def _shape(db: Database) -> dict[str, Any]:
    """Columns, keys, indexes and foreign keys of the time-series tables, as the database reports them."""
    insp = sa.inspect(db.engine)
    out: dict[str, Any] = {}
    for t in NEW_KEYS:
        indexes = sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"])) for ix in insp.get_indexes(t)
                         if not (ix.get("duplicates_constraint") or ix["name"].startswith("uq_")))
        out[t] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
            "pk": insp.get_pk_constraint(t)["constrained_columns"],
            "unique": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t)),
            "indexes": indexes,
            "fks": [(f["constrained_columns"], f["referred_table"], f["options"].get("ondelete"))
                    for f in insp.get_foreign_keys(t)],
        }
    return out


def _seed(db: Database) -> None:
    """Invented rows in every time-series table, two patients, written with the old (id) layout."""
    meta = sa.MetaData()
    base = dt.datetime(2026, 3, 28, 22, 0)
    with db.engine.begin() as c:
        tables = {t: sa.Table(t, meta, autoload_with=c) for t in [*NEW_KEYS, "patients"]}
        c.execute(tables["patients"].insert(), [
            {"id": 1, "code": "MIG-1", "note": "", "created_at": base},
            {"id": 2, "code": "MIG-2", "note": "", "created_at": base}])
        for pid in (1, 2):
            for i in range(30):
                ts = base + dt.timedelta(minutes=7 * i + pid)
                common = {"patient_id": pid, "utc_offset_s": 3600, "local_date": (ts + dt.timedelta(hours=1)).date()}
                # same instant, other kind / other vendor: distinct rows under the natural key
                c.execute(tables["heart_rate_samples"].insert(), [
                    {**common, "vendor": "fitbit", "kind": "sample", "ts_utc": ts, "bpm": 50 + i},
                    {**common, "vendor": "fitbit", "kind": "sleep", "ts_utc": ts, "bpm": 40 + i},
                    {**common, "vendor": "withings", "kind": "sample", "ts_utc": ts, "bpm": 45 + i}])
                c.execute(tables["step_intervals"].insert(), [
                    {**common, "vendor": v, "start_utc": ts, "end_utc": ts + dt.timedelta(minutes=1), "steps": i}
                    for v in ("fitbit", "polar")])
                c.execute(tables["sleep_stages"].insert(), {
                    **common, "vendor": "withings", "start_utc": ts, "end_utc": ts + dt.timedelta(minutes=7),
                    "stage": ("light", "deep", "rem")[i % 3]})
                c.execute(tables["respiratory_samples"].insert(), {
                    **common, "vendor": "withings", "ts_utc": ts, "breaths_per_minute": 12.5 + i % 4})
                c.execute(tables["snoring_samples"].insert(), {
                    **common, "vendor": "withings", "ts_utc": ts, "value": float(i % 5)})
            for d in range(5):
                c.execute(tables["resting_heart_rate"].insert(), [
                    {"patient_id": pid, "vendor": v, "local_date": base.date() + dt.timedelta(days=d), "bpm": 55 + d}
                    for v in ("fitbit", "withings")])


def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every time-series table without its id, in one order."""
    out = {}
    with db.engine.connect() as c:
        for t in NEW_KEYS:
            table = sa.Table(t, sa.MetaData(), autoload_with=c)
            cols = [col for col in table.columns if col.name != "id"]
            rows = c.execute(sa.select(*cols)).all()
            out[t] = sorted(tuple(str(v) for v in r) for r in rows)
    return out


def test_upgrade_and_downgrade_keep_every_row_and_change_the_keys(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db, revision=_before())
        old_shape = _shape(db)
        _seed(db)
        rows = _rows(db)
        assert sum(len(v) for v in rows.values()) == 2 * (30 * 8 + 10)

        upgrade(db)
        assert current_revision(db) == head_revision()
        assert _rows(db) == rows
        shape = _shape(db)
        for t, key in NEW_KEYS.items():
            assert shape[t]["pk"] == key, t
            assert [c[0] for c in shape[t]["columns"] if c[0] == "id"] == []
            assert shape[t]["unique"] == [], t  # the primary key is the unique key now
            # one B-tree per row: no index beside the primary key, but the stages' per-day one
            assert shape[t]["indexes"] == ([("ix_stage_patient_date", ("patient_id", "local_date"), False)]
                                           if t == "sleep_stages" else []), t
            assert shape[t]["fks"] == [(["patient_id"], "patients", "CASCADE")]
            model_key = [c.name for c in Base.metadata.tables[t].primary_key.columns]
            assert model_key == key, f"db/models.py and the migration disagree on {t}"
        if db.dialect == "sqlite":
            with db.engine.connect() as c:
                for t in NEW_KEYS:
                    sql = c.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (t,)).scalar()
                    assert "WITHOUT ROWID" in str(sql), t

        downgrade(db, _before())
        assert current_revision(db) == _before()
        assert _shape(db) == old_shape
        assert _rows(db) == rows
        with db.engine.begin() as c:
            ids = list(c.exec_driver_sql("SELECT id FROM heart_rate_samples ORDER BY id").scalars())
            assert ids == list(range(1, len(rows["heart_rate_samples"]) + 1))
            # the old layout works again: a new row gets the next id
            c.exec_driver_sql("INSERT INTO heart_rate_samples (patient_id, vendor, kind, ts_utc, utc_offset_s, "
                              "local_date, bpm) VALUES (1, 'polar', 'sample', '2026-03-29 10:00:00', 0, "
                              "'2026-03-29', 70)")
            assert c.exec_driver_sql("SELECT MAX(id) FROM heart_rate_samples").scalar() == len(ids) + 1

        upgrade(db)
        assert len(_rows(db)["heart_rate_samples"]) == len(rows["heart_rate_samples"]) + 1
    finally:
        db.dispose()


def test_upsert_on_the_new_keys_is_idempotent_and_updates(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db)
        with db.engine.begin() as c:
            c.exec_driver_sql("INSERT INTO patients (id, code, note, created_at) "
                              "VALUES (1, 'KEY-1', '', '2026-01-01 00:00:00')")
        base = dt.datetime(2026, 5, 1)
        hr = [{"patient_id": 1, "vendor": "fitbit", "kind": k, "ts_utc": base + dt.timedelta(minutes=i),
               "utc_offset_s": 0, "local_date": base.date(), "bpm": 60}
              for i in range(1500) for k in ("sample", "sleep")]
        steps = [{"patient_id": 1, "vendor": "fitbit", "start_utc": base + dt.timedelta(minutes=i),
                  "end_utc": base + dt.timedelta(minutes=i + 1), "utc_offset_s": 0, "local_date": base.date(),
                  "steps": 3} for i in range(1500)]
        for _ in range(2):
            with db.session() as s:
                upsert(s, HeartRateSample, hr, ("patient_id", "vendor", "kind", "ts_utc"))
                upsert(s, StepInterval, steps, ("patient_id", "vendor", "start_utc"))
        with db.session() as s:
            upsert(s, HeartRateSample, [{**hr[0], "bpm": 99}], ("patient_id", "vendor", "kind", "ts_utc"))
        with db.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample)) == 3000
            assert s.scalar(sa.select(sa.func.count()).select_from(StepInterval)) == 1500
            assert s.scalar(sa.select(HeartRateSample.bpm).where(
                HeartRateSample.ts_utc == base, HeartRateSample.kind == "sample")) == 99
            assert s.scalar(sa.select(HeartRateSample.bpm).where(
                HeartRateSample.ts_utc == base, HeartRateSample.kind == "sleep")) == 60
    finally:
        db.dispose()
