"""CSV export of one metric for one patient and vendor (DESIGN.md "External contract").

Columns lead with the ones DESIGN.md fixes; timestamps are ISO 8601 UTC with `Z`; `date` is the
patient-local civil date. A row is included when its patient-local date lies within start..end (a
sleep session and its stages carry the date on which the session ends). Rows come in time order;
with no rows the CSV is the header alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase

from db.engine import Database
from db.models import (
    BodyMeasure,
    DailyActivity,
    Exercise,
    HeartRateSample,
    Patient,
    RespiratorySample,
    RestingHeartRate,
    SleepSession,
    SleepStage,
    SnoringSample,
    StepInterval,
)
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.config import check_vendor
from services.csvtext import safe_text
from services.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Metric:
    model: type[DeclarativeBase]
    order: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (CSV header, model attribute)

    def instants(self) -> tuple[tuple[str, str], ...]:
        """(header, attribute) of the columns that hold an instant (`*_utc`): each gains its local time."""
        return tuple((h, a) for h, a in self.columns if a.endswith("_utc"))

    def headers(self) -> list[str]:
        """The CSV header: the columns, then the patient-local time of each instant column."""
        return [h for h, _ in self.columns] + [local_header(h) for h, _ in self.instants()]


# stored in every measurement row but not exported as a column of its own: the row id, the patient and
# device type (the file is one patient and vendor), and the offset (each instant's local time shows it)
NOT_EXPORTED = frozenset({"id", "patient_id", "vendor", "utc_offset_s"})


def every_field(model: type[DeclarativeBase], order: tuple[str, ...], leading: tuple[tuple[str, str], ...]
                ) -> Metric:
    """A metric whose CSV has the `leading` columns (DESIGN.md's contract first, in its order), then every
    other stored column of `model` under its own name, in the model's order — a column added to the model
    is exported without a change here."""
    named = {a for _, a in leading}
    rest = tuple((c.key, c.key) for c in model.__table__.columns
                 if c.key not in named and c.key not in NOT_EXPORTED)
    return Metric(model, order, leading + rest)


def local_header(header: str) -> str:
    return "local_time" if header == "timestamp" else f"{header}_local"


METRICS: dict[str, Metric] = {
    "heart_rate": every_field(HeartRateSample, ("ts_utc", "kind"),
                              (("timestamp", "ts_utc"), ("bpm", "bpm"), ("kind", "kind"), ("date", "local_date"))),
    "steps": every_field(StepInterval, ("start_utc",),
                         (("timestamp", "start_utc"), ("steps", "steps"), ("end", "end_utc"), ("date", "local_date"))),
    "resting_heart_rate": every_field(RestingHeartRate, ("local_date",), (("date", "local_date"), ("bpm", "bpm"))),
    "sleep": every_field(SleepSession, ("start_utc",), (
        ("start", "start_utc"), ("end", "end_utc"), ("minutes_asleep", "minutes_asleep"),
        ("minutes_awake", "minutes_awake"), ("deep_minutes", "deep_minutes"), ("light_minutes", "light_minutes"),
        ("rem_minutes", "rem_minutes"), ("date", "local_date"), ("main_sleep", "is_main"), ("score", "score"),
        ("efficiency", "efficiency"), ("hr_average", "hr_average"), ("rr_average", "rr_average"),
        ("snoring_s", "snoring_s"), ("apnea_hypopnea_index", "apnea_hypopnea_index"),
        ("wakeup_count", "wakeup_count"), ("sleep_latency_s", "sleep_latency_s"), ("hr_min", "hr_min"),
        ("hr_max", "hr_max"), ("rr_min", "rr_min"), ("rr_max", "rr_max"), ("snoring_episodes", "snoring_episodes"),
        ("external_id", "external_id"))),
    "sleep_stages": every_field(SleepStage, ("start_utc",), (
        ("start", "start_utc"), ("end", "end_utc"), ("stage", "stage"), ("date", "local_date"))),
    "respiratory_rate": every_field(RespiratorySample, ("ts_utc",), (
        ("timestamp", "ts_utc"), ("breaths_per_minute", "breaths_per_minute"), ("date", "local_date"))),
    "exercises": every_field(Exercise, ("start_utc",), (
        ("start", "start_utc"), ("end", "end_utc"), ("sport", "sport"), ("avg_hr", "avg_hr"), ("max_hr", "max_hr"),
        ("calories", "calories"), ("distance_m", "distance_m"), ("date", "local_date"), ("device", "device"),
        ("external_id", "external_id"))),
    "snoring": every_field(SnoringSample, ("ts_utc",), (
        ("timestamp", "ts_utc"), ("value", "value"), ("date", "local_date"))),
    "daily_activity": every_field(DailyActivity, ("local_date",), (
        ("date", "local_date"), ("steps", "steps"), ("calories", "calories"), ("active_minutes", "active_minutes"))),
    "body_measures": every_field(BodyMeasure, ("ts_utc", "measure_type"), (
        ("timestamp", "ts_utc"), ("measure_type", "measure_type"), ("value", "value"), ("date", "local_date"))),
}


def local_iso(utc: dt.datetime, offset_s: int) -> str:
    """An instant as the patient's wall-clock time with its offset, ISO 8601 (2026-11-20T08:00:00+01:00)."""
    tz = dt.timezone(dt.timedelta(seconds=offset_s))
    return utc.replace(tzinfo=dt.UTC).astimezone(tz).isoformat(timespec="seconds")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)  # the shortest text that reads back exactly
    if isinstance(value, str):
        return safe_text(value)
    return str(value)


def check_metric(metric: str) -> str:
    m = metric.strip().lower()
    if m not in METRICS:
        raise InvalidInput(f"Unknown metric {metric!r}. Choose one of: {', '.join(METRICS)}.")
    return m


def rows(db: Database, vendor: str, patient_code: str, metric: str, start: dt.date, end: dt.date
         ) -> Iterator[list[str]]:
    """The header, then one list of cells per row."""
    vendor = check_vendor(vendor)
    spec = METRICS[check_metric(metric)]
    if end < start:
        raise InvalidInput(f"The end date {end} is before the start date {start}. Swap them.")
    yield spec.headers()
    model: Any = spec.model
    n_cols = len(spec.columns)
    instants = [i for i, (_, a) in enumerate(spec.columns) if a.endswith("_utc")]
    with db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == patient_code.strip(), Patient.deleted_at.is_(None)))
        if pid is None:
            raise NotFound(f"There is no patient {patient_code.strip()!r}.")
        cols = [getattr(model, a) for _, a in spec.columns]
        if instants:
            cols.append(model.utc_offset_s)
        q = (select(*cols)
             .where(model.patient_id == pid, model.vendor == vendor,
                    model.local_date >= start, model.local_date <= end)
             .order_by(*[getattr(model, c) for c in spec.order]))
        for r in s.execute(q.execution_options(yield_per=5000)):
            out = [cell(v) for v in r[:n_cols]]
            out += [local_iso(r[i], r[n_cols]) if r[i] is not None else "" for i in instants]
            yield out


def write_csv(db: Database, out: TextIO, vendor: str, patient_code: str, metric: str, start: dt.date,
              end: dt.date) -> int:
    """Write the CSV to `out`; returns the number of data rows."""
    it = rows(db, vendor, patient_code, metric, start, end)
    header = next(it)  # validates everything before a byte is written
    first = next(it, None)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    if first is None:
        return 0
    w.writerow(first)
    n = 1
    for r in it:
        w.writerow(r)
        n += 1
    return n


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int


def record_export(audit: AuditLog, actor: Actor, vendor: str, patient_code: str, metric: str, start: dt.date,
                  end: dt.date, rows: int, where: str) -> None:
    """Who took which patient data out of WearSync, and where to (no values, no file contents)."""
    audit.record(actor, "export", f"{patient_code.strip()}/{vendor}",
                 f"{metric} {start}..{end}: {rows} rows to {where}")


def export_to_file(db: Database, audit: AuditLog, actor: Actor, path: Path | str, vendor: str,
                   patient_code: str, metric: str, start: dt.date, end: dt.date) -> ExportResult:
    """Write the CSV to `path` atomically (a half-written file never takes the name) and audit it."""
    actor.require("export")
    vendor = check_vendor(vendor)
    metric = check_metric(metric)
    if end < start:
        raise InvalidInput(f"The end date {end} is before the start date {start}. Swap them.")
    target = Path(path)
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder. Give a file name for the export, e.g. {target / 'export.csv'}.")
    if not target.parent.is_dir():
        raise InvalidInput(f"The folder {target.parent} does not exist. Choose another place to save the file.")
    tmp = target.with_name(target.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            n = write_csv(db, fh, vendor, patient_code, metric, start, end)
        os.replace(tmp, target)
    except PermissionError:
        raise InvalidInput(f"WearSync may not write to {target}. Choose another folder.") from None
    finally:
        tmp.unlink(missing_ok=True)
    record_export(audit, actor, vendor, patient_code, metric, start, end, n, target.name)
    return ExportResult(target, n)
