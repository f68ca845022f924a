"""Export for a study: a folder (or ZIP) that round-trips to exactly the stored rows, a manifest whose hashes
match, local times equal to UTC plus the stored offset, formula-safe text, and bad input that writes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import errno
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from db.models import AuditEntry, DailyActivity, Exercise, Patient
from db.upsert import upsert
from services.accounts.actor import HOST, Actor
from services.data.export import METRICS
from services.data.study_export import MANIFEST, MANIFEST_HEADER, export_study
from services.errors import InvalidInput, NotFound, WearSyncError
from tests.support.wearsync_data import populate

NOW = dt.datetime(2026, 11, 20, 12, 0)


def _parse(value: str, col: Any) -> Any:
    """A CSV cell back to the stored value, by the column's SQL type (independent of the export code)."""
    if value == "":
        return None
    kind = type(col.type).__name__
    if kind == "DateTime":
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    if kind == "Date":
        return dt.date.fromisoformat(value)
    if kind in ("Integer", "SmallInteger", "BigInteger"):
        return int(value)
    if kind == "Double":
        return float(value)
    if kind == "Boolean":
        return {"true": True, "false": False}[value]
    return value[1:] if value.startswith("'") else value  # text made inert for spreadsheets


def _stored(app: Any, metric: str, code: str, vendor: str, start: dt.date, end: dt.date) -> list[tuple]:
    spec = METRICS[metric]
    model: Any = spec.model
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code))
        q = select(*[getattr(model, a) for _, a in spec.columns], model.utc_offset_s if spec.instants() else None) \
            if spec.instants() else select(*[getattr(model, a) for _, a in spec.columns])
        return [tuple(r) for r in s.execute(q.where(model.patient_id == pid, model.vendor == vendor,
                                                     model.local_date.between(start, end)))]


# stored in every row but not a column of the file: the row id, the patient and device type (the file is one
# patient and vendor), the offset (the local times show it)
NOT_A_COLUMN = {"id", "patient_id", "vendor", "utc_offset_s"}


def _polar_days(app: Any, start: dt.date) -> None:
    """Polar daily activity with every field the vendor gives (invented values)."""
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == "P002"))
        upsert(s, DailyActivity, [
            {"patient_id": pid, "vendor": "polar", "local_date": start + dt.timedelta(days=d), "steps": 9100 + d,
             "calories": 2230, "active_minutes": 184, "active_duration_s": 11070 + d, "inactive_duration_s": 36300,
             "active_calories": 612, "daily_activity_pct": 82.53125 + d, "inactivity_alert_count": d,
             "distance_from_steps_m": 8425.123456789} for d in range(2)], ["patient_id", "vendor", "local_date"])


def test_folder_round_trips_to_the_stored_rows(app: Any, tmp_path: Path) -> None:
    populate(app.db, NOW)
    start, end = dt.date(2026, 11, 17), dt.date(2026, 11, 20)
    _polar_days(app, start)
    out = tmp_path / "study"
    result = export_study(app.db, app.audit, HOST, out, ["P001", "P002"], list(METRICS), start, end)

    manifest = list(csv.DictReader((out / MANIFEST).open(encoding="utf-8")))
    assert list(manifest[0]) == MANIFEST_HEADER
    # one file per patient, device type and metric; nothing else in the folder
    expected_files = {f"{p}_{v}_{m}.csv" for p, vs in (("P001", ("fitbit", "withings")), ("P002", ("fitbit", "polar")))
                      for v in vs for m in METRICS}
    assert {m["file"] for m in manifest} == expected_files
    assert {p.name for p in out.iterdir()} == expected_files | {MANIFEST}
    assert sum(int(m["rows"]) for m in manifest) == result.rows > 1000

    for m in manifest:
        data = (out / m["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == m["sha256"]
        spec = METRICS[m["metric"]]
        model: Any = spec.model
        table = model.__table__
        got_rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        header, body = got_rows[0], got_rows[1:]
        # DESIGN.md's contract columns lead, in order; then the rest; then a local time per instant column
        assert header[: len(spec.columns)] == [h for h, _ in spec.columns]
        # every stored field is a column of the file
        assert {a for _, a in spec.columns} == {c.key for c in table.columns} - NOT_A_COLUMN, m["file"]
        assert len(body) == int(m["rows"])
        stored = _stored(app, m["metric"], m["patient"], m["vendor"], start, end)
        parsed = []
        for row in body:
            values = tuple(_parse(row[i], table.c[a]) for i, (_, a) in enumerate(spec.columns))
            parsed.append(values)
            if spec.instants():
                stored_row = next((r for r in stored if r[: len(values)] == values), None)
                assert stored_row is not None, (m["file"], values, stored[:2])
                offset = dt.timedelta(seconds=stored_row[-1])
                for j, (h, a) in enumerate(spec.instants()):
                    local = dt.datetime.fromisoformat(row[len(spec.columns) + j])
                    utc = values[[x for _, x in spec.columns].index(a)]
                    assert local.utcoffset() == offset and local.replace(tzinfo=None) == utc + offset, (h, row)
        stripped = [r[: len(spec.columns)] for r in stored]
        assert sorted(parsed, key=repr) == sorted(stripped, key=repr), m["file"]
        if body:
            assert (m["first_timestamp"], m["last_timestamp"]) == (body[0][0], body[-1][0])

    audit = [e for e in app.audit.entries() if e.action == "export.study"]
    assert len(audit) == 1 and "2 patients" in audit[0].target
    # the vendors' extra fields are in the files, exactly as stored
    sleep = list(csv.DictReader((out / "P001_withings_sleep.csv").open(encoding="utf-8")))
    assert sleep and {r["breathing_disturbances_intensity"] for r in sleep} >= {"7.123456789", "8.25"}
    assert all(r["time_in_bed_s"].startswith("297") and r["wakeup_latency_s"] == "360" for r in sleep)
    [ex] = csv.DictReader((out / "P002_polar_exercises.csv").open(encoding="utf-8"))
    assert (ex["training_load"], ex["sport_detail"], ex["distance_m"]) == ("143.2234567", "RUNNING_ROAD", "5012.345678")
    days = list(csv.DictReader((out / "P002_polar_daily_activity.csv").open(encoding="utf-8")))
    assert [(r["daily_activity_pct"], r["distance_from_steps_m"]) for r in days] == [
        ("82.53125", "8425.123456789"), ("83.53125", "8425.123456789")]


def test_zip_holds_the_same_files_and_manifest(app: Any, tmp_path: Path) -> None:
    populate(app.db, NOW)
    start, end = dt.date(2026, 11, 17), dt.date(2026, 11, 20)
    folder = export_study(app.db, app.audit, HOST, tmp_path / "f", ["P002"], ["heart_rate", "exercises"], start, end,
                          vendors=["polar"])
    zipped = export_study(app.db, app.audit, HOST, tmp_path / "s.zip", ["P002"], ["heart_rate", "exercises"], start,
                          end, vendors=["polar"])
    with zipfile.ZipFile(zipped.path) as z:
        names = sorted(z.namelist())
        assert names == sorted([MANIFEST, "P002_polar_heart_rate.csv", "P002_polar_exercises.csv"])
        for n in names:
            assert z.read(n) == (folder.path / n).read_bytes()
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".wearsync-export-*"))


def test_free_text_is_inert_in_spreadsheets_and_numbers_stay_numbers(app: Any, tmp_path: Path) -> None:
    populate(app.db, NOW)
    with app.db.session() as s:
        s.execute(update(Exercise).values(sport="=HYPERLINK(\"http://x.example\",\"run\")", device="@SUM(A1:A9)"))
    start, end = dt.date(2026, 11, 17), dt.date(2026, 11, 20)
    res = export_study(app.db, app.audit, HOST, tmp_path / "x", ["P002"], ["exercises", "body_measures"], start, end)
    ex = list(csv.DictReader((res.path / "P002_polar_exercises.csv").open(encoding="utf-8")))
    assert ex and all(r["sport"] == "'=HYPERLINK(\"http://x.example\",\"run\")" for r in ex)
    assert all(r["device"] == "'@SUM(A1:A9)" for r in ex)
    # the audit trail's export too: a user name / detail starting with "=" is text, a negative number a number
    app.audit.record(Actor("=cmd|' /C calc'!A0", "admin", "gui"), "note", "-12.5", "+danger")
    text = app.audit.to_csv(None, actor=HOST)
    last = list(csv.reader(io.StringIO(text)))[-1]
    assert last[1:] == ["'=cmd|' /C calc'!A0", "gui", "note", "-12.5", "'+danger"]


@pytest.mark.parametrize(("patients", "metrics", "start", "end", "error", "words"), [
    (["P-NOBODY"], ["steps"], "2026-11-17", "2026-11-20", NotFound, "no patient"),
    (["P001"], ["weight"], "2026-11-17", "2026-11-20", InvalidInput, "Unknown metric"),
    ([], ["steps"], "2026-11-17", "2026-11-20", InvalidInput, "at least one patient"),
    (["P001"], [], "2026-11-17", "2026-11-20", InvalidInput, "at least one kind"),
    (["P001"], ["steps"], "2026-11-20", "2026-11-17", InvalidInput, "Swap"),
])
def test_bad_selection_writes_nothing(app: Any, tmp_path: Path, patients: list[str], metrics: list[str],
                                      start: str, end: str, error: type, words: str) -> None:
    populate(app.db, NOW)
    where = tmp_path / "exports"
    where.mkdir()
    with pytest.raises(error) as exc:
        export_study(app.db, app.audit, HOST, where / "out", patients, metrics, dt.date.fromisoformat(start),
                     dt.date.fromisoformat(end))
    assert words in exc.value.message
    assert list(where.iterdir()) == []
    with app.db.session() as s:
        assert not s.scalars(select(AuditEntry).where(AuditEntry.action == "export.study")).all()


def test_full_disk_or_unwritable_folder_leaves_nothing(app: Any, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    populate(app.db, NOW)
    start, end = dt.date(2026, 11, 17), dt.date(2026, 11, 20)
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    real_open = open
    calls = {"n": 0}

    def filling_disk(path: Any, mode: str = "r", *a: Any, **kw: Any) -> Any:
        if "w" in mode and ".wearsync-export-" in str(path):
            calls["n"] += 1
            if calls["n"] == 3:  # the third file finds the disk full
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", filling_disk)
    with pytest.raises(WearSyncError) as exc:
        export_study(app.db, app.audit, HOST, tmp_path / "study", ["P001"], list(METRICS), start, end)
    assert "No space left" in exc.value.message and "Nothing was saved" in exc.value.message
    monkeypatch.setattr("builtins.open", real_open)
    assert list(tmp_path.iterdir()) == []  # no folder, no temporary files
    (tmp_path / "a-file").write_text("")
    with pytest.raises(InvalidInput) as exc2:  # the tests run as root here, for whom no folder is read-only
        export_study(app.db, app.audit, HOST, tmp_path / "a-file" / "study", ["P001"], ["steps"], start, end)
    assert "does not exist" in exc2.value.message
    (tmp_path / "a-file").unlink()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.txt").write_text("keep me")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        export_study(app.db, app.audit, HOST, tmp_path / "taken", ["P001"], ["steps"], start, end)
    assert (tmp_path / "taken" / "x.txt").read_text() == "keep me"


def test_study_export_from_the_command_line(run_cli, tmp_path: Path) -> None:
    from db.engine import Database
    from services import config

    db = Database(config.database_url())
    try:
        from db.migrate import upgrade

        upgrade(db)
        populate(db, NOW)
    finally:
        db.dispose()
    r = run_cli("export", "--patient", "P001", "--patient", "P002", "--metric", "steps", "--metric", "sleep",
                "--start", "2026-11-17", "--end", "2026-11-20", "--out", str(tmp_path / "s.zip"))
    assert r.returncode == 0, r.stderr
    assert "manifest.csv" in r.stdout
    with zipfile.ZipFile(tmp_path / "s.zip") as z:
        assert "P002_polar_steps.csv" in z.namelist() and MANIFEST in z.namelist()
    bad = run_cli("export", "--patient", "P001", "--patient", "P002", "--metric", "steps",
                  "--start", "2026-11-17", "--end", "2026-11-20")
    assert bad.returncode == 1 and bad.stderr.startswith("wearsync: ") and "--out" in bad.stderr
    one = run_cli("export", "--patient", "P001", "--metric", "steps", "--start", "2026-11-17", "--end", "2026-11-20")
    assert one.returncode == 1 and "--vendor" in one.stderr and "Traceback" not in one.stderr
