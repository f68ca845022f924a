"""The schema: created by `db upgrade` on both dialects, idempotent, reversible; upserts never duplicate."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, inspect, select

from db.engine import Database
from db.migrate import current_revision, downgrade, head_revision, upgrade
from db.models import Base, HeartRateSample, Patient, SleepSession
from db.upsert import upsert


def test_upgrade_creates_every_table_and_twice_is_a_noop(db_url: str, tmp_path) -> None:
    db = Database(db_url)
    assert current_revision(db) is None
    upgrade(db, backup_dir=tmp_path / "b")
    assert current_revision(db) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert upgrade(db, backup_dir=tmp_path / "b") is None  # nothing to do, no backup made
    assert not (tmp_path / "b").exists()
    db.dispose()


def test_downgrade_then_upgrade_round_trip(db_url: str, tmp_path) -> None:
    db = Database(db_url)
    upgrade(db)
    downgrade(db, "base")
    assert current_revision(db) is None
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(db)
    assert current_revision(db) == head_revision()
    with db.session() as s:
        s.add(Patient(code="P1", note="", created_at=dt.datetime(2026, 1, 1)))
    db.dispose()


def test_cli_db_upgrade_twice_and_round_trip(run_cli, tmp_path) -> None:
    env = {"WEARSYNC_HOME": str(tmp_path / "h")}
    first = run_cli("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty" in first.stdout
    second = run_cli("db", "upgrade", env=env)
    assert second.returncode == 0 and "up to date" in second.stdout
    assert run_cli("db", "downgrade", "base", env=env).returncode == 0
    third = run_cli("db", "upgrade", env=env)
    assert third.returncode == 0 and "upgraded" in third.stdout


@pytest.fixture
def migrated(db_url: str):
    db = Database(db_url)
    upgrade(db)
    with db.session() as s:
        s.add(Patient(code="P1", note="", created_at=dt.datetime(2026, 1, 1)))
    yield db
    db.dispose()


def _hr_rows(n: int, bpm: int = 60) -> list[dict]:
    base = dt.datetime(2026, 11, 20, 23, 0)
    return [
        {"patient_id": 1, "vendor": "fitbit", "kind": "sample", "ts_utc": base + dt.timedelta(minutes=i),
         "utc_offset_s": 3600, "local_date": dt.date(2026, 11, 21), "bpm": bpm + i % 7}
        for i in range(n)
    ]


def test_upsert_twice_changes_nothing_and_updates_values(migrated: Database) -> None:
    key = ["patient_id", "vendor", "kind", "ts_utc"]
    rows = _hr_rows(2500)  # more than one chunk
    with migrated.session() as s:
        upsert(s, HeartRateSample, rows, key)
    with migrated.session() as s:
        upsert(s, HeartRateSample, rows, key)
        assert s.scalar(select(func.count()).select_from(HeartRateSample)) == 2500
    changed = _hr_rows(10, bpm=90)
    with migrated.session() as s:
        upsert(s, HeartRateSample, changed, key)
        values = s.scalars(select(HeartRateSample.bpm).order_by(HeartRateSample.ts_utc).limit(3)).all()
        assert list(values) == [90, 91, 92]
        assert s.scalar(select(func.count()).select_from(HeartRateSample)) == 2500


def test_upsert_keeps_nullable_fields(migrated: Database) -> None:
    row = {"patient_id": 1, "vendor": "withings", "start_utc": dt.datetime(2026, 11, 20, 22),
           "end_utc": dt.datetime(2026, 11, 21, 6), "utc_offset_s": 0, "local_date": dt.date(2026, 11, 21),
           "is_main": True, "minutes_asleep": 420, "snoring_s": None}
    with migrated.session() as s:
        upsert(s, SleepSession, [row, {**row, "start_utc": dt.datetime(2026, 11, 21, 22)}],
               ["patient_id", "vendor", "start_utc"])
        upsert(s, SleepSession, [row], ["patient_id", "vendor", "start_utc"])
        assert s.scalar(select(func.count()).select_from(SleepSession)) == 2
