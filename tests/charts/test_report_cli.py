"""`main.py report`: the PDF's text (pdftotext) holds the patient ID and each day's step total, as
computed here from the stored step rows; bad input is one sentence, exit 1, and leaves no file."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from db.models import Patient, StepInterval
from tests.charts.conftest import FIRST, LAST, TZ

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is missing")


def day_steps(db, code: str) -> dict[dt.date, int]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        pid = s.scalar(sa.select(Patient.id).where(Patient.code == code))
        rows = s.execute(sa.select(StepInterval.start_utc, StepInterval.steps)
                         .where(StepInterval.patient_id == pid)).all()
    out: dict[dt.date, int] = defaultdict(int)
    for ts, n in rows:
        out[ts.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(TZ[code])).date()] += n
    return out


@pytest.fixture
def cli(charted, run_cli):  # type: ignore[no-untyped-def]
    def run(*args: str):  # type: ignore[no-untyped-def]
        return run_cli(*args, env={"WEARSYNC_DATABASE_URL": charted.url, "TZ": "UTC",
                                   "WEARSYNC_HOME": os.environ["WEARSYNC_HOME"]})
    return run


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder for the report (tmp_path also holds the data directory)."""
    f = tmp_path / "reports"
    f.mkdir()
    return f


def test_report_pdf_holds_patient_and_each_days_steps(cli, db, folder: Path) -> None:  # type: ignore[no-untyped-def]
    out = folder / "C-LA report.pdf"
    r = cli("report", "--patient", "C-LA", "--start", str(FIRST), "--end", str(LAST), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.is_file() and out.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in folder.iterdir()) == ["C-LA report.pdf"]  # no temporary file left
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "C-LA" in text
    steps = day_steps(db, "C-LA")
    day = FIRST
    while day <= LAST:
        total = steps[day]
        assert total > 1000
        names = (day.isoformat(), f"{day:%d %b}", f"{day.day} {day:%b}", f"{day:%d/%m}")
        line = next((ln for ln in text.splitlines() if any(n in ln for n in names)
                     and (f"{total:,}" in ln or re.search(rf"\b{total}\b", ln))), None)
        assert line is not None, f"no line with {day}'s step total {total:,}"
        day += dt.timedelta(days=1)


@pytest.mark.parametrize("args,words", [
    (("--patient", "NOBODY", "--start", "2026-11-01", "--end", "2026-11-02"), "no patient"),
    (("--patient", "C-LA", "--start", "2025-01-01", "--end", "2025-01-31"), "no data"),
    (("--patient", "C-LA", "--start", "2026-11-05", "--end", "2026-11-01"), "before the start date"),
    (("--patient", "C-LA", "--start", "2025-01-01", "--end", "2026-01-05"), "at most 366 days"),
])
def test_report_bad_input_writes_nothing(cli, folder: Path, args, words) -> None:  # type: ignore[no-untyped-def]
    out = folder / "r.pdf"
    r = cli("report", *args, "--out", str(out))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("wearsync:") and words in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert list(folder.iterdir()) == []


def test_report_unwritable_out_is_refused_before_any_work(run_cli, folder: Path) -> None:
    for target, words in ((folder / "missing" / "r.pdf", "does not exist"), (folder, "is a folder")):
        r = run_cli("report", "--patient", "P1", "--start", "2026-11-01", "--end", "2026-11-02", "--out", str(target))
        assert r.returncode == 1 and r.stderr.startswith("wearsync:") and words in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert list(folder.iterdir()) == []


def test_a_renderer_failing_halfway_leaves_no_file(tmp_path: Path) -> None:
    from services.cli.report import write_report
    from services.errors import WearSyncError

    def half(_data: object, path: Path) -> None:
        path.write_bytes(b"%PDF-1.4 half")
        raise OSError("disk full")

    target = tmp_path / "r.pdf"
    with pytest.raises(WearSyncError, match="could not be written"):
        write_report(object(), target, half)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"the previous report")
    with pytest.raises(WearSyncError, match="could not be written"):
        write_report(object(), target, half)  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"] and target.read_bytes() == b"the previous report"
