"""One database per dialect for the chart and compliance tests, filled once per module with the
sandbox's invented physiology for three patients in time zones far apart (and far from a UTC host):
Auckland (UTC+13), Los Angeles (crosses the end of daylight saving time on 2026-11-01) and Paris."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import MYSQL_ADMIN_URL, REQUIRE_MARIADB, mariadb_reason
from tests.support.chart_data import Enrolled, store

FIRST, LAST = dt.date(2026, 10, 29), dt.date(2026, 11, 5)
NOW = dt.datetime(2026, 11, 6, 9, 0)
PATIENTS = [
    Enrolled("C-AKL", "Pacific/Auckland", ("fitbit", "withings")),
    Enrolled("C-LA", "America/Los_Angeles", ("fitbit", "polar")),
    Enrolled("C-PAR", "Europe/Paris", ("withings", "polar")),
]
TZ = {p.code: p.tz for p in PATIENTS}


@dataclass(frozen=True)
class Charted:
    url: str
    dialect: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def charted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Charted]:
    """A migrated database holding PATIENTS' data for local days FIRST..LAST."""
    from db.engine import Database
    from db.migrate import upgrade

    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('charts')) / 'charts.sqlite3'}"
    else:
        reason = mariadb_reason()
        if reason:
            if REQUIRE_MARIADB:
                pytest.fail("CI must run the MariaDB tests: " + reason)
            pytest.skip(reason)
        name = "wearsync_test_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(MYSQL_ADMIN_URL)
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        url = MYSQL_ADMIN_URL.rstrip("/") + "/" + name
    db = Database(url)
    try:
        upgrade(db)
        store(db, PATIENTS, FIRST, LAST, NOW)
        _watch_off_early(db, "C-LA", dt.date(2026, 11, 4), keep=400)
        db.dispose()
        yield Charted(url, request.param)
    finally:
        db.dispose()
        if name is not None:
            with admin.connect() as c:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            admin.dispose()


def _watch_off_early(db: object, code: str, day: dt.date, keep: int) -> None:
    """A day the patient took the watch off early: only the first `keep` heart-rate samples remain."""
    from db.models import HeartRateSample, Patient

    with db.session() as s:  # type: ignore[attr-defined]
        pid = s.scalar(sa.select(Patient.id).where(Patient.code == code))
        cut = s.scalars(sa.select(HeartRateSample.ts_utc).where(
            HeartRateSample.patient_id == pid, HeartRateSample.vendor == "fitbit",
            HeartRateSample.local_date == day).order_by(HeartRateSample.ts_utc).offset(keep).limit(1)).first()
        if cut is not None:
            s.execute(sa.delete(HeartRateSample).where(
                HeartRateSample.patient_id == pid, HeartRateSample.vendor == "fitbit",
                HeartRateSample.local_date == day, HeartRateSample.ts_utc >= cut))


@pytest.fixture
def db(charted: Charted) -> Iterator[object]:
    from db.engine import Database

    d = Database(charted.url)
    yield d
    d.dispose()
