"""Deleting part of a patient's data: the preview counts exactly what goes, undo puts back the same rows,
the rows are purged when the window closes, and an excluded day is not downloaded again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import DatasetDeletion, HeartRateSample, SleepSession
from services.accounts.actor import HOST, Actor
from services.data.deletion import Selection
from services.errors import InvalidInput, NotFound, PermissionDenied
from tests.connect.conftest import MEASUREMENTS, count, table_digest
from tests.support.wearsync_data import populate

NOW = dt.datetime(2026, 11, 20, 12, 0)
D17, D18, D20 = dt.date(2026, 11, 17), dt.date(2026, 11, 18), dt.date(2026, 11, 20)


def digest(app: Any) -> dict[str, tuple[int, str]]:
    """Row count and content checksum (without ids) of every measurement table and the coverage ledger."""
    import hashlib

    from db.models import Base

    out = table_digest(app.db, MEASUREMENTS)
    cov = Base.metadata.tables["coverage"]
    cols = [c for c in cov.columns if c.name != "id"]
    with app.db.engine.connect() as c:
        rows = c.execute(select(*cols).order_by(*cols)).all()
    out["coverage"] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


@pytest.mark.parametrize("sel", [
    Selection("P001"),  # everything of one patient
    Selection("P001", vendor="withings"),  # one device type
    Selection("P002", metric="heart_rate"),  # one metric, every device type
    Selection("P001", vendor="fitbit", metric="steps", start=D18, end=D18),  # one metric, one day
    Selection("P001", start=D17, end=D18),  # some days of everything
], ids=["all", "vendor", "metric", "metric-day", "days"])
def test_preview_equals_what_goes_and_undo_restores_the_same_rows(app: Any, sel: Selection) -> None:
    app.deletions.clock = lambda: NOW
    populate(app.db, NOW)
    before = digest(app)
    preview = app.deletions.preview(sel)
    assert preview.total > 0
    result = app.deletions.delete(sel, HOST)
    after = digest(app)
    for table, n in preview.rows.items():
        assert before[table][0] - after[table][0] == n, table  # exactly the previewed rows went
    untouched = set(MEASUREMENTS) - set(preview.rows)
    assert all(before[t] == after[t] for t in untouched)
    # nothing of another patient, another device type, another day went
    assert after != before
    msg = app.deletions.undo(HOST)
    assert f"Restored {preview.total:,} rows" in msg
    assert digest(app) == before  # the same rows (and coverage ledger) back, checksums equal
    assert result.id and app.deletions.last_undoable() is None
    actions = [e.action for e in app.audit.entries()]
    assert "data.delete" in actions and "data.undo_delete" in actions


def test_dry_run_counts_against_an_independent_count(app: Any) -> None:
    populate(app.db, NOW)
    with app.db.session() as s:
        hr = s.scalar(select(func.count()).select_from(HeartRateSample).where(
            HeartRateSample.patient_id == 2, HeartRateSample.vendor == "fitbit",
            HeartRateSample.local_date.between(D17, D18)))
    preview = app.deletions.preview(Selection("P002", vendor="fitbit", metric="heart_rate", start=D17, end=D18))
    assert preview.rows == {"heart_rate_samples": hr} and hr > 0


def test_undo_window_and_purge(app: Any) -> None:
    populate(app.db, NOW)
    app.deletions.clock = lambda: NOW
    app.deletions.delete(Selection("P001", metric="sleep"), HOST)
    assert count(app.db, SleepSession, SleepSession.patient_id == 1) == 0
    app.deletions.clock = lambda: NOW + dt.timedelta(hours=24, minutes=1)
    with pytest.raises(InvalidInput, match="older than 24 hours"):
        app.deletions.undo(HOST)
    assert app.deletions.purge(NOW + dt.timedelta(hours=23, minutes=59)) == 0  # still inside the window
    assert app.deletions.purge(NOW + dt.timedelta(hours=24, minutes=1)) == 1
    with app.db.session() as s:
        row = s.scalar(select(DatasetDeletion))
        assert row is not None and row.payload is None and row.purged_at is not None
    assert count(app.db, SleepSession, SleepSession.patient_id == 1) == 0


def test_undo_at_23h59_works(app: Any) -> None:
    populate(app.db, NOW)
    app.deletions.clock = lambda: NOW
    before = digest(app)
    app.deletions.delete(Selection("P002", vendor="polar"), HOST)
    app.deletions.clock = lambda: NOW + dt.timedelta(hours=23, minutes=59)
    app.deletions.undo(HOST)
    assert digest(app) == before


def test_bad_input_and_roles_change_nothing(app: Any) -> None:
    populate(app.db, NOW)
    before = digest(app)
    for sel, err, words in [
        (Selection("P-NOBODY"), NotFound, "no patient"),
        (Selection("P001", metric="weight"), InvalidInput, "Unknown metric"),
        (Selection("P001", vendor="garmin"), InvalidInput, "garmin"),
        (Selection("P001", start=D20, end=D17), InvalidInput, "Swap"),
        (Selection("P001", start=D17), InvalidInput, "both"),
        (Selection("P001", vendor="polar"), InvalidInput, "Nothing to delete"),  # P001 has no Polar data
    ]:
        with pytest.raises(err) as exc:
            app.deletions.delete(sel, HOST)
        assert words in exc.value.message
    with pytest.raises(PermissionDenied):
        app.deletions.delete(Selection("P001"), Actor("cora", "coordinator", "gui"))
    assert digest(app) == before
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(DatasetDeletion)) == 0


def test_data_delete_cli(run_cli) -> None:  # type: ignore[no-untyped-def]
    from db.engine import Database
    from db.migrate import upgrade
    from services import config

    db = Database(config.database_url())
    try:
        upgrade(db)
        populate(db, NOW)
    finally:
        db.dispose()
    dry = run_cli("data", "delete", "--patient", "P002", "--vendor", "polar", "--metric", "heart_rate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    n = int(dry.stdout.splitlines()[0].split("\t")[1])
    assert dry.stdout.splitlines()[0].startswith("heart_rate_samples\t") and n > 0
    refused = run_cli("data", "delete", "--patient", "P002", "--vendor", "polar", "--metric", "heart_rate")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    done = run_cli("data", "delete", "--patient", "P002", "--vendor", "polar", "--metric", "heart_rate", "--yes")
    assert done.returncode == 0 and "main.py data undo" in done.stdout and f"Deleted {n:,} rows" in done.stdout
    again = run_cli("data", "delete", "--patient", "P002", "--vendor", "polar", "--metric", "heart_rate", "--dry-run")
    assert again.stdout.splitlines()[0] == "heart_rate_samples\t0"
    undo = run_cli("data", "undo")
    assert undo.returncode == 0 and f"Restored {n:,} rows" in undo.stdout
    for args, words in ((["--patient", "P-NONE"], "no patient"), (["--patient", "P001", "--start", "2026-11-18"],
                                                                     "both"),
                        (["--patient", "P001", "--start", "2026-11-18", "--end", "2026-11-17"], "Swap")):
        r = run_cli("data", "delete", *args, "--yes")
        assert r.returncode == 1 and r.stderr.startswith("wearsync: ") and words in r.stderr
        assert "Traceback" not in r.stderr
    nothing = run_cli("data", "undo")
    assert nothing.returncode == 1 and "no data deletion to undo" in nothing.stderr


def test_undoable_names_the_last_deletion_inside_its_window(app: Any) -> None:
    """What the Patients page's Undo banner offers: the last deletion, in words, until undone or too old."""
    populate(app.db, NOW)
    app.deletions.clock = lambda: NOW
    assert app.deletions.undoable() is None
    first = app.deletions.delete(Selection("P001", metric="sleep"), HOST)
    last = app.deletions.delete(Selection("P002", vendor="polar", start=D17, end=D20), HOST)
    item = app.deletions.undoable()
    assert item is not None and item.id == last.id != first.id
    assert item.description == f"Deleted {last.preview.total:,} rows: all data from polar of patient P002, " \
                               f"{D17} to {D20}"
    app.deletions.undo(HOST, item.id)
    item = app.deletions.undoable()
    assert item is not None and item.id == first.id
    app.deletions.clock = lambda: NOW + dt.timedelta(hours=24, minutes=1)
    assert app.deletions.undoable() is None
