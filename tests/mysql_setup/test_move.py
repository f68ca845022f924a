"""Moving a populated SQLite database into MariaDB keeps every row; a failure changes nothing."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.engine import Database
from db.migrate import upgrade
from db.models import HeartRateSample, Patient
from services.errors import Conflict
from services.reach.db_move import MoveFailed, MoveProgress, fingerprint, move_database, tables_in_order
from tests.support.wearsync_data import populate


@pytest.fixture(scope="module")
def populated_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("move") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    populate(db, dense=True)
    db.dispose()
    return path


@pytest.fixture
def sqlite_source(populated_file: Path, tmp_path: Path) -> str:
    """A fresh copy of the populated database for each test (populating takes a while)."""
    path = tmp_path / "source.sqlite3"
    shutil.copyfile(populated_file, path)
    return f"sqlite:///{path}"


def _counts(url: str) -> dict[str, tuple[int, str]]:
    db = Database(url)
    with db.engine.connect() as c:
        out = {t.name: fingerprint(c, t) for t in tables_in_order()}
    db.dispose()
    return out


def test_move_keeps_every_row_counts_and_checksums_match(sqlite_source: str, mysql_url: str,
                                                         tmp_path: Path) -> None:
    source_file = Path(sqlite_source.removeprefix("sqlite:///"))
    source_bytes = source_file.read_bytes()
    before = _counts(sqlite_source)
    assert sum(n for n, _ in before.values()) > 5000
    assert all(before[t][0] for t in ("patients", "heart_rate_samples", "sleep_stages", "exercises", "coverage",
                                      "oauth_states", "device_syncs", "body_measures"))
    seen: list[MoveProgress] = []

    report = move_database(sqlite_source, mysql_url, chunk_size=250, backup_dir=tmp_path / "backups",
                           progress=seen.append)

    assert report.ok and report.rows_copied == sum(n for n, _ in before.values())
    assert {t.table: (t.target_rows, t.target_checksum) for t in report.tables} == before
    # computed independently, after commit, on each side
    assert _counts(mysql_url) == before
    assert report.snapshot and Path(report.snapshot).exists()
    assert source_file.read_bytes() == source_bytes  # the original is only ever read
    assert any(p.table == "heart_rate_samples" and 0 < p.rows_done < p.rows_total for p in seen)
    # ids kept, and MySQL continues numbering after them
    target = Database(mysql_url)
    with target.session() as s:
        deleted = s.scalar(sa.select(Patient).where(Patient.code == "P-DEL"))
        assert deleted is not None and deleted.id == 4 and deleted.deleted_at is not None
        s.add(Patient(code="NEW", note="", created_at=dt.datetime(2026, 1, 1)))
    with target.session() as s:
        assert s.scalar(sa.select(Patient.id).where(Patient.code == "NEW")) == 5
        bm = s.execute(sa.text("SELECT value FROM body_measures")).scalar()
        assert bm == 72.123456789  # DOUBLE, not FLOAT
    target.dispose()


def test_a_failure_half_way_leaves_the_target_empty_and_a_rerun_works(sqlite_source: str, mysql_url: str) -> None:
    def crash(p: MoveProgress) -> None:
        if p.table == "heart_rate_samples" and p.rows_done >= 500:
            raise ConnectionError("network dropped")  # what a cable pull looks like to the caller

    with pytest.raises(ConnectionError):
        move_database(sqlite_source, mysql_url, chunk_size=250, progress=crash)
    assert all(n == 0 for n, _ in _counts(mysql_url).values())

    report = move_database(sqlite_source, mysql_url)  # no overwrite needed: nothing was left behind
    assert report.ok and _counts(mysql_url) == _counts(sqlite_source)


def test_a_non_empty_target_is_refused_unless_overwrite(sqlite_source: str, mysql_url: str) -> None:
    move_database(sqlite_source, mysql_url)
    target = Database(mysql_url)
    with target.session() as s:
        s.add(Patient(code="ONLY-IN-TARGET", note="", created_at=dt.datetime(2026, 1, 1)))
    target.dispose()

    with pytest.raises(Conflict, match="already holds data"):
        move_database(sqlite_source, mysql_url)
    assert _counts(mysql_url)["patients"][0] == 5  # untouched

    report = move_database(sqlite_source, mysql_url, overwrite=True)
    assert report.ok and _counts(mysql_url) == _counts(sqlite_source)


def test_a_value_mysql_would_change_makes_the_move_undo_itself(sqlite_source: str, mysql_url: str) -> None:
    db = Database(sqlite_source)
    with db.session() as s:  # MySQL DATETIME keeps no fractions of a second
        H = HeartRateSample  # one row, by its key
        pid, ts, kind, vendor = s.execute(sa.select(H.patient_id, H.ts_utc, H.kind, H.vendor).limit(1)).one()
        s.execute(sa.update(H).where(H.patient_id == pid, H.ts_utc == ts, H.kind == kind, H.vendor == vendor)
                  .values(ts_utc=dt.datetime(2020, 1, 1, 0, 0, 0, 400000)))
    db.dispose()
    with pytest.raises(MoveFailed, match="heart_rate_samples") as err:
        move_database(sqlite_source, mysql_url)
    assert "Nothing was lost" in err.value.message
    assert all(n == 0 for n, _ in _counts(mysql_url).values())


def test_a_missing_source_file_is_refused_and_not_created(tmp_path: Path) -> None:
    from services.errors import InvalidInput

    missing = tmp_path / "nothing-here.sqlite3"
    with pytest.raises(InvalidInput, match="no WearSync database"):
        move_database(f"sqlite:///{missing}", f"sqlite:///{tmp_path / 'target.sqlite3'}")
    assert not missing.exists()
