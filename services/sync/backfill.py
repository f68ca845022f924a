"""Backfill: download a date range for chosen patients (the seed's manual_update.py, in the app).

`plan_backfill()` validates the choice and returns what the dialog shows BEFORE anything starts
(the connections, and the estimate of requests and time under each vendor's quota);
`run_backfill()` downloads it through the per-connection queues, reporting progress in
connection-data-type-days with a time-left estimate (services/sync/progress.py). Cancel stops at the
next chunk; what is stored stays, and running the same backfill again skips the days done.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from db.engine import Database
from services.accounts.actor import Actor
from services.clock import Clock
from services.errors import InvalidInput
from services.sync.backfill_estimate import estimate_range, history_warnings
from services.sync.progress import Progress, ProgressTracker
from services.sync.quota import Estimate

if TYPE_CHECKING:
    from services.sync.service import SyncProgress, SyncRunResult, SyncService


class BackfillHost(Protocol):
    """What a backfill needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def sync(self) -> SyncService: ...
    @property
    def clock(self) -> Clock: ...


# what the estimate and the progress bar both count: one data type of one device on one day
UNIT = "days of data"


@dataclass(frozen=True)
class BackfillPlan:
    start: dt.date
    end: dt.date
    patient_codes: tuple[str, ...] | None  # None: every patient
    vendor: str | None  # None: every vendor
    connections: tuple[tuple[int, str, str, str], ...]  # (id, patient code, vendor, status)
    estimate: Estimate
    units: int = 0  # days of data to download (each data type's day counts), the progress bar's unit
    warnings: tuple[str, ...] = ()  # e.g. Polar no longer keeps the first days asked for

    def describe_target(self) -> str:
        who = ", ".join(self.patient_codes) if self.patient_codes is not None else "all patients"
        return f"{who} ({self.vendor})" if self.vendor else who

    def describe(self, *, warnings: bool = True) -> str:
        n = sum(1 for c in self.connections if c[3] in ("connected", "error"))
        days = (self.end - self.start).days + 1
        todo = f": {self.units:,} {UNIT} to download" if self.units else ""
        text = (f"{n} patient device{'s' if n != 1 else ''}, {days} day{'s' if days != 1 else ''}{todo}. "
                f"{self.estimate.describe()}")
        return " ".join((text, *self.warnings)) if warnings else text


def validate_range(start: dt.date, end: dt.date, today: dt.date) -> None:
    """Bad dates get a message that says how to fix them (the dialog shows it next to the fields)."""
    if start > end:
        raise InvalidInput(f"The first day ({start:%d %b %Y}) is after the last day ({end:%d %b %Y}). Swap them.")
    if end > today:
        raise InvalidInput(f"The last day ({end:%d %b %Y}) is in the future; choose today or earlier.")


def plan_backfill(app: BackfillHost, start: dt.date, end: dt.date, *, patient_codes: list[str] | None = None,
                  vendor: str | None = None, today: dt.date | None = None) -> BackfillPlan:
    today = today or app.clock.today()
    validate_range(start, end, today)
    if patient_codes is not None and not patient_codes:
        raise InvalidInput("Choose at least one patient, or tick \"All patients\".")
    rows = app.sync.store.connections(vendor)
    if patient_codes is not None:
        wanted = set(patient_codes)
        rows = [r for r in rows if r[1] in wanted]
    if not any(r[3] in ("connected", "error") for r in rows):
        raise InvalidInput("None of the chosen patients has a connected device"
                           + (f" from {vendor.capitalize()}" if vendor else "") + ".")
    est = estimate_range(app.db, start, end, patient_codes=patient_codes, vendor=vendor)
    units = sum(app.sync.pending_days(cid, start, end) for cid, *_ in rows)  # as run_backfill counts them
    warnings = history_warnings(app.db, start, today, patient_codes=patient_codes, vendor=vendor)
    return BackfillPlan(start, end, tuple(patient_codes) if patient_codes is not None else None, vendor,
                        tuple(rows), est, units, tuple(warnings))


def run_backfill(app: BackfillHost, plan: BackfillPlan, *, on_progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None, actor: Actor | None = None) -> SyncRunResult:
    """`actor`: the person who started it (role checked, recorded); None for the CLI's host owner."""
    who = plan.describe_target()
    app.sync.started_by(actor, f"backfill {plan.start}..{plan.end}", who)
    cancel = cancel or threading.Event()
    total = sum(app.sync.pending_days(cid, plan.start, plan.end) for cid, *_ in plan.connections)
    tracker = ProgressTracker(total, estimate_s=plan.estimate.seconds, on_change=on_progress, unit=UNIT)
    labels = {"fitbit": "Fitbit", "withings": "Withings", "polar": "Polar"}

    def step(p: SyncProgress) -> None:
        tracker.advance(p.days, label=f"{p.patient_code} · {labels.get(p.vendor, p.vendor)} · "
                                      f"{p.data_type.replace('_', ' ')}")

    run = app.sync.sync_rows(list(plan.connections), plan.start, plan.end, progress=step, cancel=cancel,
                             trigger="backfill", report_all=plan.patient_codes is not None)
    if cancel.is_set():
        tracker.cancel()  # tells the listener: stopped, what is stored stays
    return run
