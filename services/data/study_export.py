"""Export for a study: a selection of patients × metrics × patient-local days, one CSV per patient, device
type and metric, in a folder or a ZIP, with a `manifest.csv` (file, patient, vendor, metric, rows, first and
last timestamp, SHA-256 of the file).

Each CSV is the same file `main.py export` writes for that patient, vendor and metric (services/data/export.py:
DESIGN.md's leading columns first, every stored field after them, each instant in UTC with `Z` and beside it
the patient's local time with its offset). Nothing is half-written: the files are written under a temporary
name (a temporary folder, or a `.part` ZIP) and take their names only when all are complete.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from db.engine import Database
from db.models import Connection, Patient
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.config import VENDORS, check_vendor
from services.data.export import METRICS, check_metric, rows
from services.errors import InvalidInput, NotFound

MANIFEST = "manifest.csv"
MANIFEST_HEADER = ["file", "patient", "vendor", "metric", "rows", "first_timestamp", "last_timestamp", "sha256"]
MAX_DAYS = 3660


@dataclass(frozen=True)
class StudyFile:
    name: str
    patient: str
    vendor: str
    metric: str
    rows: int
    first: str
    last: str
    sha256: str


@dataclass(frozen=True)
class StudyExport:
    path: Path
    files: list[StudyFile]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def describe(self) -> str:
        return (f"Exported {len(self.files)} file{'s' if len(self.files) != 1 else ''} "
                f"({self.rows:,} rows) and {MANIFEST} to {self.path}.")


def _file_name(patient: str, vendor: str, metric: str) -> str:
    return f"{patient}_{vendor}_{metric}.csv"  # patient IDs are letters, digits, - _ . only


def plan(db: Database, patients: Sequence[str], metrics: Sequence[str], vendors: Sequence[str] | None,
         start: dt.date, end: dt.date) -> list[tuple[str, str, str]]:
    """(patient, vendor, metric) of every file, after checking the selection; raises one plain sentence."""
    if not patients:
        raise InvalidInput("Choose at least one patient to export.")
    if not metrics:
        raise InvalidInput("Choose at least one kind of data (metric) to export.")
    if end < start:
        raise InvalidInput(f"The end date {end} is before the start date {start}. Swap them.")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput("Choose at most ten years at a time.")
    wanted_metrics = list(dict.fromkeys(check_metric(m) for m in metrics))
    wanted_vendors = list(dict.fromkeys(check_vendor(v) for v in vendors)) if vendors else list(VENDORS)
    out: list[tuple[str, str, str]] = []
    with db.session() as s:
        for code in dict.fromkeys(p.strip() for p in patients):
            pid = s.scalar(select(Patient.id).where(Patient.code == code, Patient.deleted_at.is_(None)))
            if pid is None:
                raise NotFound(f"There is no patient {code!r}.")
            has = set(s.scalars(select(Connection.vendor).where(Connection.patient_id == pid)))
            for vendor in (v for v in wanted_vendors if v in has):
                out += [(code, vendor, m) for m in wanted_metrics]
    if not out:
        raise InvalidInput("None of the chosen patients has a device of the chosen types.")
    return out


def _write_one(db: Database, fh: io.TextIOBase, patient: str, vendor: str, metric: str, start: dt.date,
               end: dt.date) -> tuple[int, str, str]:
    """Write one CSV; (rows, first timestamp, last timestamp) — the first column of the file."""
    it = rows(db, vendor, patient, metric, start, end)
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(next(it))
    n, first, last = 0, "", ""
    for r in it:
        w.writerow(r)
        if n == 0:
            first = r[0]
        last = r[0]
        n += 1
    return n, first, last


def export_study(db: Database, audit: AuditLog, actor: Actor, out: Path | str, patients: Sequence[str],
                 metrics: Sequence[str], start: dt.date, end: dt.date, vendors: Sequence[str] | None = None,
                 as_zip: bool | None = None) -> StudyExport:
    """Write the selection to the folder `out` (created; must be empty if it exists) or, when `out` ends in
    `.zip` (or `as_zip`), to that ZIP file. Audited: who exported which patients' data, and where to."""
    actor.require("export")
    target = Path(out)
    as_zip = target.suffix.lower() == ".zip" if as_zip is None else as_zip
    files = plan(db, patients, metrics, vendors, start, end)
    parent = target.parent
    if not parent.is_dir():
        raise InvalidInput(f"The folder {parent} does not exist. Choose another place for the export.")
    if as_zip and target.is_dir():
        raise InvalidInput(f"{target} is a folder. Give the ZIP file a name, e.g. {target / 'export.zip'}.")
    if not as_zip and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidInput(f"{target} already exists and is not an empty folder. Choose a new folder name.")
    try:
        work = Path(tempfile.mkdtemp(prefix=".wearsync-export-", dir=parent))
    except OSError as exc:
        raise InvalidInput(f"WearSync may not write in {parent} ({exc.strerror}). Choose another folder.") from None
    try:
        done: list[StudyFile] = []
        for patient, vendor, metric in files:
            name = _file_name(patient, vendor, metric)
            with open(work / name, "w", encoding="utf-8", newline="") as fh:
                n, first, last = _write_one(db, fh, patient, vendor, metric, start, end)
            digest = hashlib.sha256((work / name).read_bytes()).hexdigest()
            done.append(StudyFile(name, patient, vendor, metric, n, first, last, digest))
        with open(work / MANIFEST, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(MANIFEST_HEADER)
            for f in done:
                w.writerow([f.name, f.patient, f.vendor, f.metric, f.rows, f.first, f.last, f.sha256])
        if as_zip:
            part = target.with_name(target.name + ".part")
            with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as z:
                for name in [*(f.name for f in done), MANIFEST]:
                    z.write(work / name, arcname=name)
            os.replace(part, target)
        else:
            if target.exists():
                target.rmdir()
            os.replace(work, target)
    except OSError as exc:
        target.with_name(target.name + ".part").unlink(missing_ok=True)
        raise InvalidInput(f"The export could not be written to {target} ({exc.strerror or exc}). "
                           "Nothing was saved; free some space or choose another place.") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    audit.record(actor, "export.study", f"{len(set(p for p, _, _ in files))} patients",
                 f"{', '.join(sorted(set(m for _, _, m in files)))} {start}..{end}: "
                 f"{sum(f.rows for f in done)} rows in {len(done)} files to {target.name}")
    return StudyExport(target, done)


METRIC_NAMES = tuple(METRICS)
