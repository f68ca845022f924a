"""The fast upsert (db/upsert.py) stores every value exactly as SQLAlchemy itself would, on both
dialects: awkward text, NULLs, floats, booleans, dates and fractions of a second."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from db.engine import Database
from db.migrate import upgrade
from db.models import HeartRateSample, Patient, Setting, SleepSession
from db.upsert import upsert

AWKWARD = ["it's", 'say "hi"', "back\\slash", "100% %s %(x)s", "Zoë 日本", "line\nbreak\ttab", "", "\\'; --",
           "trailing\\"]


BASE = dt.datetime(2026, 4, 1)
HR_KEY = ("patient_id", "vendor", "kind", "ts_utc")


def _db_with_patient(url: str, code: str) -> Database:
    """A migrated database holding one patient (id 1); the caller disposes of it."""
    db = Database(url)
    upgrade(db)
    with db.session() as s:
        s.add(Patient(id=1, code=code, note="", created_at=BASE))
    return db


def _hr_rows(n: int, base: dt.datetime = BASE, bpm: int | None = None) -> list[dict[str, object]]:
    return [{"patient_id": 1, "vendor": "fitbit", "kind": "sample", "ts_utc": base + dt.timedelta(minutes=i),
             "utc_offset_s": 0, "local_date": base.date(), "bpm": bpm if bpm is not None else 40 + i % 90}
            for i in range(n)]


def test_upsert_stores_what_the_orm_stores(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db)
        with db.session() as s:
            upsert(s, Setting, [{"key": f"k{i}", "value": v} for i, v in enumerate(AWKWARD)], ["key"])
        with db.session() as s:
            assert dict(s.execute(sa.select(Setting.key, Setting.value)).tuples().all()) == {
                f"k{i}": v for i, v in enumerate(AWKWARD)}

        when = dt.datetime(2026, 2, 3, 4, 5, 6)
        with db.session() as s:
            s.add(Patient(id=1, code="VAL-1", note="", created_at=when))
            s.flush()
            s.add(HeartRateSample(patient_id=1, vendor="fitbit", kind="orm", ts_utc=when, utc_offset_s=-3600,
                                  local_date=when.date(), bpm=61))
        with db.session() as s:
            upsert(s, HeartRateSample, [{"patient_id": 1, "vendor": "fitbit", "kind": "upsert", "ts_utc": when,
                                         "utc_offset_s": -3600, "local_date": when.date(), "bpm": 61}],
                   ["patient_id", "vendor", "kind", "ts_utc"])
        with db.engine.connect() as c:  # the stored text itself, not what SQLAlchemy makes of it
            stored = c.exec_driver_sql("SELECT kind, CAST(ts_utc AS CHAR), CAST(local_date AS CHAR) "
                                       "FROM heart_rate_samples ORDER BY kind").all()
        assert stored[0][1:] == stored[1][1:], stored
        with db.session() as s:  # and a query by the same instant finds both
            assert s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample)
                            .where(HeartRateSample.ts_utc == when, HeartRateSample.local_date == when.date())) == 2

        night = {"patient_id": 1, "vendor": "withings", "start_utc": dt.datetime(2026, 2, 2, 22, 0, 0, 250000),
                 "end_utc": dt.datetime(2026, 2, 3, 6, 30), "utc_offset_s": 0, "local_date": when.date(),
                 "is_main": False, "efficiency": 0.8125, "hr_average": 1e-7, "minutes_asleep": None,
                 "external_id": "x'1\\"}
        with db.session() as s:
            upsert(s, SleepSession, [night], ["patient_id", "vendor", "start_utc"])
        with db.session() as s:
            got = s.execute(sa.select(SleepSession)).scalar_one()
            assert got.is_main is False and got.efficiency == 0.8125 and got.minutes_asleep is None
            assert got.hr_average is not None and abs(got.hr_average - 1e-7) < 1e-12
            assert got.external_id == "x'1\\" and got.end_utc == night["end_utc"]
            # MySQL's DATETIME keeps whole seconds; SQLite keeps the fraction
            assert got.start_utc.replace(microsecond=0) == dt.datetime(2026, 2, 2, 22, 0)
    finally:
        db.dispose()


def test_many_batches_all_arrive_and_a_failing_batch_fails_the_write(db_url: str, monkeypatch) -> None:
    """Batches are sent while the next is built (MariaDB): every batch lands, statements split at the
    size limit, and an error in any batch — the last included — reaches the caller and nothing is kept."""
    import pytest

    import db.upsert as upsert_module

    monkeypatch.setattr(upsert_module, "CHUNK", 70)
    monkeypatch.setattr(upsert_module, "MYSQL_STATEMENT_BYTES", 700)
    db = _db_with_patient(db_url, "BATCH-1")
    try:
        rows = _hr_rows(1000)
        key = HR_KEY
        with db.session() as s:
            assert upsert(s, HeartRateSample, rows, key) == 1000
        with db.session() as s:
            got = s.execute(sa.select(HeartRateSample.ts_utc, HeartRateSample.bpm)
                            .order_by(HeartRateSample.ts_utc)).tuples().all()
        assert got == [(r["ts_utc"], r["bpm"]) for r in rows]

        changed = [{**r, "bpm": 200} for r in rows]
        changed[-1] = {**changed[-1], "bpm": None}  # NOT NULL: the very last batch fails
        with pytest.raises(sa.exc.DBAPIError), db.session() as s:
            upsert(s, HeartRateSample, changed, key)
        with db.session() as s:  # the whole write was rolled back
            assert s.scalar(sa.select(sa.func.count()).where(HeartRateSample.bpm == 200)) == 0
    finally:
        db.dispose()


def test_mariadb_builds_the_next_batch_while_the_server_writes_the_last(mysql_url: str, monkeypatch) -> None:
    """The overlap that makes the upsert reach the server's own statement speed (docs/PERFORMANCE.md):
    a statement is sent, the next batch is built, and only then is the sent one's answer read."""
    import db.upsert as upsert_module

    monkeypatch.setattr(upsert_module, "CHUNK", 100)
    events: list[str] = []
    build, send, finish = upsert_module._mysql_values, upsert_module._Sender.send, upsert_module._Sender.finish

    def logged_build(*args):  # type: ignore[no-untyped-def]
        events.append("build")
        return build(*args)

    def logged_send(sender, statement: str) -> None:  # type: ignore[no-untyped-def]
        send(sender, statement)
        events.append("send")

    def logged_finish(sender) -> None:  # type: ignore[no-untyped-def]
        if sender.pending:
            events.append("read")
        finish(sender)

    monkeypatch.setattr(upsert_module, "_mysql_values", logged_build)
    monkeypatch.setattr(upsert_module._Sender, "send", logged_send)
    monkeypatch.setattr(upsert_module._Sender, "finish", logged_finish)
    db = _db_with_patient(mysql_url, "OVERLAP-1")
    try:
        rows = _hr_rows(400)
        with db.session() as s:
            upsert(s, HeartRateSample, rows, ("patient_id", "vendor", "kind", "ts_utc"))
        assert events == ["build", "send"] + ["build", "read", "send"] * 3 + ["read"]
        with db.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample)) == 400
    finally:
        db.dispose()


def test_mariadb_a_failure_while_a_statement_is_outstanding_keeps_nothing(mysql_url: str, monkeypatch) -> None:
    """Building a batch fails after the previous one was sent and before its answer was read: the
    error reaches the caller, the connection (its answer still unread) is not reused, nothing is kept."""
    import pytest

    import db.upsert as upsert_module

    monkeypatch.setattr(upsert_module, "CHUNK", 100)
    build = upsert_module._mysql_values
    calls = []

    def failing_build(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("converter broke")
        return build(*args)

    db = _db_with_patient(mysql_url, "OUTSTANDING-1")
    try:
        monkeypatch.setattr(upsert_module, "_mysql_values", failing_build)
        with pytest.raises(RuntimeError, match="converter broke"), db.session() as s:
            upsert(s, HeartRateSample, _hr_rows(400), HR_KEY)
        monkeypatch.setattr(upsert_module, "_mysql_values", build)
        for _ in range(3):  # the pool hands out working connections, none with an answer pending
            with db.session() as s:
                assert s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample)) == 0
        with db.session() as s:
            upsert(s, HeartRateSample, _hr_rows(250), HR_KEY)
        with db.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample)) == 250
    finally:
        db.dispose()
