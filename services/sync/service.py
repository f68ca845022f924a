"""Downloading data: per connection, per data type, per chunk of patient-local days.

The same entry points serve the CLI (`main.py sync`), the GUI ("Update now") and the scheduler:
- `sync_connection()` runs one connection in the caller's thread (never on the UI thread);
- `submit()` queues it: ONE queue per connection, so two syncs of one account never overlap, and a
  request for a connection already queued is merged into it (or into the running one when that
  already covers the days) instead of running twice;
- `sync_all()` queues every matching connection and waits, recording one SyncRun;
- `sync_days()` is what the scheduler calls (exactly the days the coverage ledger lacks), and
  `update_now()` the "Update now" of the window and the tray (services/sync/flow.py): both go
  through the same queues, so a connection already queued or running is joined, never run twice.
Days already done in the coverage ledger (complete / not worn) are skipped per data type, so a
backfill that was killed or cancelled resumes where it stopped; `refetch=True` downloads them again.
Every request passes the process-wide quota limiter (services/sync/quota.py).
Faults follow DESIGN.md: a failed chunk is recorded (coverage "failed") and the rest goes on; a
withdrawn consent marks the connection "needs re-consent" and stops, without retry loops; a
database server that goes away mid-write (restart, failover) is waited for and the chunk written again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from db.engine import Database, connection_lost, retry_deadlocks
from db.models import Connection
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.connect.oauth.base import ConsentRevoked
from services.connect.tokens import TokenManager
from services.errors import InvalidInput, NotFound, WearSyncError
from services.settings import Settings
from services.sync.catchup import max_days_setting
from services.sync.interrupted import INTERRUPTED, STOPPED, RunLeases
from services.sync.interrupted import describe as describe_interrupted
from services.sync.interrupted import record as record_interrupted
from services.sync.quota import QuotaLimiter, shared_limiter
from services.sync.store import DayStatus, SyncStore
from services.vendors import VendorRegistry
from services.vendors.base import DataType, FetchContext, RateLimited, Records, ScopeDenied, Vendor
from services.vendors.http import ApiClient, RequestCancelled
from services.vendors.times import chunks, days, local_midnight_utc, local_today

log = logging.getLogger(__name__)

SYNCABLE = ("connected", "error")


class SyncHost(Protocol):
    """What downloading needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...


@dataclass(frozen=True)
class SyncProgress:
    connection_id: int
    patient_code: str
    vendor: str
    data_type: str
    chunk: int
    chunks: int
    rows_written: int
    days: int = 0  # days of this data type the chunk settled (downloaded or failed)


@dataclass
class TypeResult:
    data_type: str
    rows: int = 0
    days_ok: int = 0
    days_failed: int = 0
    error: str | None = None
    skipped: str | None = None  # why it was not downloaded (not shared by the patient)


@dataclass
class SyncResult:
    connection_id: int
    patient_code: str
    vendor: str
    start: dt.date | None
    end: dt.date | None
    ok: bool = True
    rows_written: int = 0
    status: str = "connected"
    types: list[TypeResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    scopes_missing: tuple[str, ...] = ()
    cancelled: bool = False

    @property
    def summary(self) -> str:
        label = f"{self.patient_code} {self.vendor}"
        if self.status == "needs_reconsent":
            return f"{label}: needs re-consent — {self.errors[0] if self.errors else 'connect the account again'}"
        span = f"{self.start}..{self.end}" if self.start else ""
        text = f"{label} {span}: {self.rows_written} rows"
        skipped = [t.data_type for t in self.types if t.skipped]
        if skipped:
            text += f"; not shared by the patient: {', '.join(skipped)}"
        if self.cancelled:
            text += "; cancelled"
        if self.errors:
            text += "; problems: " + " ".join(self.errors)
        return text


def devices(n: int) -> str:
    """What a coordinator calls a connection: one patient's device account at one vendor."""
    return "patient device" if n == 1 else "patient devices"


@dataclass
class SyncRunResult:
    run_id: int
    results: list[SyncResult]
    already_today: int = 0  # "Update now": connections skipped because they were updated today
    cancelled: bool = False  # someone pressed Cancel: what is stored stays, the rest was not fetched
    planned: int = 0  # connections queued for download

    @property
    def summary(self) -> str:
        """One plain sentence for a status line or a tray message."""
        if self.cancelled or any(r.cancelled for r in self.results):
            done = sum(1 for r in self.results if r.ok and not r.cancelled)
            total = max(self.planned, len(self.results))
            return (f"Cancelled: {done} of {total} {devices(total)} finished, {self.rows_written:,} rows kept. "
                    "Start the same download again to resume.")
        if not self.results:
            if self.already_today:
                return f"All {self.already_today} {devices(self.already_today)} were already updated today."
            return "Nothing to download: no patient has a connected device yet."
        failed = [r for r in self.results if not r.ok]
        text = f"{len(self.results)} {devices(len(self.results))} updated, {self.rows_written:,} rows"
        if failed:
            text += f"; {len(failed)} with problems (see the Sync page)"
        if self.already_today:
            text += f"; {self.already_today} already up to date today"
        return text + "."

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def rows_written(self) -> int:
        return sum(r.rows_written for r in self.results)


Progress = Callable[[SyncProgress], None]


@dataclass
class _Job:
    connection_id: int
    start: dt.date
    end: dt.date
    future: Future[SyncResult]
    progress: list[Progress] = field(default_factory=list)
    # one per requester (None: cannot be cancelled); a merged job stops only when all of them cancel
    cancels: list[threading.Event | None] = field(default_factory=list)
    refetch: bool = False

    def is_set(self) -> bool:
        return bool(self.cancels) and all(c is not None and c.is_set() for c in self.cancels)


@dataclass
class _Slot:
    running: _Job | None = None
    queued: _Job | None = None


class SyncService:
    def __init__(
        self,
        app: SyncHost,
        vendors: VendorRegistry,
        tokens: TokenManager,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        http_timeout: float = 30.0,
        max_workers: int | None = None,
        leases: RunLeases | None = None,
    ) -> None:
        self.app = app
        self.vendors = vendors
        self.tokens = tokens
        self.store = SyncStore(app.db)
        # (patient code, vendor, None at the start | the SyncRunResult at the end) of first downloads
        self.on_first_download: list[Callable[[str, str, SyncRunResult | None], None]] = []
        self.clock = clock or app.clock
        self.sleep = sleep
        self.http_timeout = http_timeout
        self.max_workers = max_workers or (2 if app.db.dialect == "sqlite" else 4)
        self._executor: ThreadPoolExecutor | None = None
        self._slots: dict[int, _Slot] = {}
        self._guard = threading.Lock()
        self._conn_locks: dict[int, threading.Lock] = {}
        # set by shutdown(): no new work, running downloads stop between requests; reopen() clears it
        self.stopping = threading.Event()
        self.leases = leases  # a lock file per running run, so a crash is found at the next start
        self._runs: dict[int, dt.datetime] = {}  # runs of this process still running -> started at
        self._given_up: set[int] = set()  # runs shutdown() recorded as interrupted before they ended
        self._runs_changed = threading.Condition(threading.Lock())
        # test seam: called after each committed chunk (fault injection "killed mid-way")
        self.after_chunk: Callable[[int, str, dt.date, dt.date], None] | None = None
        # None: the process-wide limiter (real time), or a private one on virtual time when a
        # test injected `sleep` (its waits are recorded, not slept)
        self.limiter: QuotaLimiter | None = None
        self._virtual: tuple[Callable[[float], None], _VirtualTime] | None = None

    # ------------------------------------------------------------------ quota and waiting
    def quota(self) -> tuple[QuotaLimiter, Callable[[float], None]]:
        """The limiter every request passes, and the sleep to wait with (interruptible on shutdown)."""
        if self.sleep is time.sleep:
            return (self.limiter or shared_limiter()), self._interruptible_sleep
        if self._virtual is None or self._virtual[0] is not self.sleep:
            vt = _VirtualTime(self.sleep)
            self._virtual = (self.sleep, vt)
            self._virtual_limiter = QuotaLimiter(clock=vt.now, sleep=vt.sleep)
        return (self.limiter or self._virtual_limiter), self._virtual[1].sleep

    def _interruptible_sleep(self, seconds: float) -> None:
        # a quota wait can be long (Polar: 15 min); quitting the app must not wait for it
        if self.stopping.wait(max(0.0, seconds)):
            raise SyncStopped("WearSync is stopping; the download continues at the next start.")

    # ------------------------------------------------------------------ planning
    def plan(self, connection_id: int, start: dt.date | None = None, end: dt.date | None = None
             ) -> tuple[dt.date, dt.date]:
        """The patient-local days a sync covers; without dates the daily incremental range."""
        with self.app.db.session() as s:
            conn = s.get(Connection, connection_id)
            if conn is None:
                raise NotFound("That connection no longer exists.")
            tz, vendor_name, connected_at = conn.timezone, conn.vendor, conn.connected_at
        today = local_today(tz, self.clock.utcnow())
        if start is not None and end is not None:
            if end < start:
                raise InvalidInput(f"The end date {end} is before the start date {start}. Swap them.")
            return start, end
        end = end or today
        if start is not None:
            if end < start:
                raise InvalidInput(f"The end date {end} is before the start date {start}. Swap them.")
            return start, end
        vendor = self.vendors.get(vendor_name)
        lookback = int(self.app.settings.get("lookback_days"))
        done = self.store.last_done_day(connection_id, list(vendor.data_types))
        if done is not None:
            first = min(done, end - dt.timedelta(days=lookback))
        elif vendor.history_from_connection and connected_at is not None:
            first = local_today(tz, connected_at)
        else:
            first = end - dt.timedelta(days=vendor.first_sync_days - 1)
        # a longer gap is a backfill with explicit dates (services/sync/catchup.py gaps_beyond says so)
        first = max(first, end - dt.timedelta(days=max_days_setting(self.app.settings) - 1))
        return min(first, end), end

    # ------------------------------------------------------------------ one connection, this thread
    def sync_connection(
        self,
        connection_id: int,
        start: dt.date | None = None,
        end: dt.date | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        trigger: str = "manual",
        refetch: bool = False,
        actor: Actor | None = None,
    ) -> SyncResult:
        self.started_by(actor, "one connection", f"connection {connection_id}")
        lo, hi = self.plan(connection_id, start, end)
        run_id = self.start_run(trigger, 1)
        result = self._run(connection_id, lo, hi, [progress] if progress else [], cancel, refetch)
        self._finish_run(run_id, [result])
        return result

    # ------------------------------------------------------------------ queues
    def submit(self, connection_id: int, start: dt.date | None = None, end: dt.date | None = None, *,
               progress: Progress | None = None, cancel: threading.Event | None = None,
               join_any: bool = False, refetch: bool = False, actor: Actor | None = None
               ) -> Future[SyncResult]:
        """Queue a sync of one connection (merged with one already queued for it).

        `join_any`: when a sync of this connection is already running or queued, join it whatever
        days it covers instead of queueing another ("Update now" while the scheduler runs).
        """
        self.started_by(actor, "one connection", f"connection {connection_id}")
        lo, hi = self.plan(connection_id, start, end)
        if self.stopping.is_set():  # shutting down: no new work; the waiter gets a CancelledError
            dropped: Future[SyncResult] = Future()
            dropped.cancel()
            return dropped
        with self._guard:
            slot = self._slots.setdefault(connection_id, _Slot())
            if slot.queued is not None:
                job = slot.queued
                job.start, job.end = min(job.start, lo), max(job.end, hi)
                job.refetch = job.refetch or refetch
            elif slot.running is not None and (join_any or (slot.running.start <= lo and hi <= slot.running.end)):
                job = slot.running
            else:
                job = _Job(connection_id, lo, hi, Future(), refetch=refetch)
                if slot.running is None:
                    slot.running = job
                    self._pool().submit(self._work, job)
                else:
                    slot.queued = job  # starts when the running one ends
            if progress is not None:
                job.progress.append(progress)
            job.cancels.append(cancel)
            return job.future

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="wearsync-sync")
        return self._executor

    def _work(self, job: _Job) -> None:
        try:
            if job.future.set_running_or_notify_cancel():
                try:
                    job.future.set_result(self._run(job.connection_id, job.start, job.end, job.progress, job,
                                                    job.refetch))
                except BaseException as exc:
                    job.future.set_exception(exc)
        finally:
            with self._guard:
                slot = self._slots.setdefault(job.connection_id, _Slot())
                slot.running, slot.queued = slot.queued, None
                follow = slot.running
                if follow is not None and not self.stopping.is_set():
                    self._pool().submit(self._work, follow)
                elif follow is not None:
                    follow.future.cancel()
                    slot.running = None

    def sync_all(
        self,
        *,
        vendor: str | None = None,
        patient: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        trigger: str = "manual",
        refetch: bool = False,
        actor: Actor | None = None,
    ) -> SyncRunResult:
        """Sync every connection that can be synced (optionally one vendor / one patient) and wait.

        Days already done are skipped (a re-run resumes); `refetch=True` downloads them again."""
        self.started_by(actor, "all connections", " ".join(x for x in (patient, vendor) if x) or "all")
        if start is not None and end is not None and end < start:
            raise InvalidInput(f"The end date {end} is before the start date {start}. Swap them.")
        rows = self.store.connections(vendor, patient)
        if patient and not rows:
            raise NotFound(f"Patient {patient} has no {vendor + ' ' if vendor else ''}device connection.")
        return self.sync_rows(rows, start, end, progress=progress, cancel=cancel, trigger=trigger,
                              report_all=bool(patient), refetch=refetch)

    def sync_rows(self, rows: list[tuple[int, str, str, str]], start: dt.date | None, end: dt.date | None, *,
                  progress: Progress | None = None, cancel: threading.Event | None = None,
                  trigger: str = "manual", report_all: bool = False, join_any: bool = False,
                  refetch: bool = False) -> SyncRunResult:
        """Queue these (id, patient code, vendor, status) connections and wait; one SyncRun."""
        if self.stopping.is_set():
            raise SyncStopped("WearSync is stopping; the download continues at the next start.")
        run_id = self.start_run(trigger, len(rows))
        results: list[SyncResult] = []
        futures: list[Future[SyncResult]] = []
        try:
            for cid, code, v, status in rows:
                if status not in SYNCABLE:
                    if report_all or status == "needs_reconsent":
                        results.append(self._not_syncable(cid, code, v, status))
                    continue
                futures.append(self.submit(cid, start, end, progress=progress, cancel=cancel, join_any=join_any,
                                           refetch=refetch))
            for fut in futures:
                try:
                    results.append(fut.result())  # a cancelled job ends before its next request
                except CancelledError:
                    pass  # dropped at shutdown before it started
        finally:
            stopped = cancel is not None and cancel.is_set()
            planned = len(futures) + sum(1 for r in results if r.start is None)  # queued + not syncable
            self._finish_run(run_id, results, total=planned, cancelled=stopped)
        return SyncRunResult(run_id, results, cancelled=stopped, planned=planned)

    def first_download(self, patient_code: str, vendor: str) -> SyncRunResult:
        """Right after a connection is made: the days the vendor offers since the consent, at most the
        last FIRST_DOWNLOAD_DAYS, through the same per-connection queue as every other download.
        Listeners in `on_first_download` hear (patient, vendor, None) at the start and the result at the end."""
        rows = self.store.connections(vendor, patient_code, statuses=SYNCABLE)
        if not rows:
            return SyncRunResult(0, [])
        lo, hi = self.plan(rows[0][0])
        lo = max(lo, hi - dt.timedelta(days=FIRST_DOWNLOAD_DAYS - 1))
        self._tell_first(patient_code, vendor, None)
        result: SyncRunResult | None = None
        try:
            result = self.sync_rows(rows[:1], lo, hi, trigger="first", join_any=True)
            return result
        finally:
            self._tell_first(patient_code, vendor, result if result is not None else SyncRunResult(0, []))

    def _tell_first(self, patient_code: str, vendor: str, result: SyncRunResult | None) -> None:
        for cb in list(self.on_first_download):
            try:
                cb(patient_code, vendor, result)
            except Exception:
                log.exception("a first-download listener failed")

    def sync_days(self, trigger: str, days: list[dt.date] | None,
                  connection_ids: list[int] | None = None) -> SyncRunResult:
        """The scheduler's entry point (services/scheduler.RunSync): exactly these days."""
        from services.sync.flow import sync_days

        return sync_days(self, trigger, days, connection_ids)

    def update_now(self, *, force: bool = False, progress: Progress | None = None,
                   actor: Actor | None = None) -> SyncRunResult:
        """"Update now": connections not yet updated today (all of them with `force`)."""
        from services.sync.flow import update_now

        self.started_by(actor, "update now", "all")
        return update_now(self, force=force, progress=progress)

    def started_by(self, actor: Actor | None, what: str, target: str) -> None:
        """A download a person started: refused unless their role may start downloads, and recorded
        in the audit trail. None is an internal caller (scheduler, CLI) that needs neither."""
        if actor is None:
            return
        actor.require("sync.run")
        self.app.audit.record(actor, "sync.started", target, what)

    def pending_days(self, connection_id: int, start: dt.date, end: dt.date) -> int:
        """Data-type days a sync of start..end would still fetch (the unit of a backfill's progress)."""
        with self.app.db.session() as s:
            conn = s.get(Connection, connection_id)
            if conn is None or conn.status not in SYNCABLE:
                return 0
            vendor_name, granted, tz = conn.vendor, set(conn.scopes_granted.split()), conn.timezone
        today = local_today(tz, self.clock.utcnow())
        total = 0
        for t in self.vendors.get(vendor_name).data_types:
            if t.scope and t.scope not in granted:
                continue
            done = self.store.done_days(connection_id, t.name, start, end)
            total += sum(1 for d in days(start, end) if d not in done or d >= today)
        return total

    def start_run(self, trigger: str, total: int) -> int:
        """Record a run as "running" (with a lease, so a crash is found at the next start)."""
        now = self.clock.utcnow()
        run_id = self.store.start_run(trigger, total, now)
        with self._runs_changed:
            self._runs[run_id] = now
        if self.leases is not None:
            self.leases.take(run_id)
        return run_id

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop taking work (until `reopen()`): running syncs stop between two requests (a chunk
        commits whole or not at all, so the ledger stays true) and a quota wait ends at once; queued
        ones are dropped, and whoever waits on them gets a CancelledError, never a hang.

        Waits for the running ones at most `timeout` seconds (None: until they end). A run that has
        not ended by then is recorded "interrupted" with what it left undone: the next start says so
        and its catch-up fetches those days."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        self.stopping.set()
        with self._guard:
            running: list[Future[SyncResult]] = []
            for slot in self._slots.values():
                if slot.queued is not None:
                    slot.queued.future.cancel()
                    slot.queued = None
                job = slot.running
                if job is not None and not job.future.cancel():  # cancel() drops one not yet started
                    running.append(job.future)
            self._slots = {cid: slot for cid, slot in self._slots.items()
                           if slot.running is not None and not slot.running.future.cancelled()}
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        wait(running, timeout=left())
        if executor is not None and deadline is None:
            executor.shutdown(wait=True)
        # the runs' own threads record how they ended; what is still open at the deadline is interrupted
        with self._runs_changed:
            # (the workers are done: the threads waiting on them record their runs at once)
            self._runs_changed.wait_for(lambda: not self._runs, timeout=5.0 if deadline is None else left())
            still = dict(self._runs)
            self._runs.clear()
            self._given_up.update(still)
        for run_id, started in still.items():
            try:
                record_interrupted(self.app.db, run_id, started, STOPPED, self.clock.utcnow())
            except Exception:
                log.exception("recording an interrupted download failed")
            if self.leases is not None:
                self.leases.release(run_id)
        if still:
            log.info("%d download(s) interrupted by the shutdown; they resume at the next start", len(still))
        if timeout is not None and (running or still):
            busy = sum(1 for f in running if not f.done())
            log.info("downloads stopped after %.1f s%s", timeout - (left() or 0.0),
                     f"; {busy} still waiting for a vendor's answer" if busy else "")

    def reopen(self) -> None:
        """Take work again after `shutdown()` (the background services started again)."""
        self.stopping.clear()

    def _not_syncable(self, cid: int, code: str, vendor: str, status: str) -> SyncResult:
        label = self.vendors.label(vendor)
        reason = {
            "needs_reconsent": f"the patient must connect {label} again",
            "withdrawn": "the connection was withdrawn",
            "not_connected": f"{label} is not connected yet",
        }.get(status, status)
        # nothing was downloaded: the coordinator has to act, so this is not a success
        return SyncResult(cid, code, vendor, None, None, ok=False, status=status,
                          errors=[reason[:1].upper() + reason[1:] + "."])

    def _finish_run(self, run_id: int, results: list[SyncResult], total: int | None = None,
                    cancelled: bool = False, complete: bool = True) -> None:
        """Recorded as it happened: a cancelled run says "cancelled" and counts only the connections
        it finished; the ones it stopped in the middle of are neither ok nor failed. A run that the
        app's shutdown stopped before it was done is "interrupted", with what it left undone.
        `complete`: False when the caller stopped before queueing everything it planned."""
        with self._runs_changed:
            started = self._runs.pop(run_id, None)
            self._runs_changed.notify_all()
            if run_id in self._given_up:
                self._given_up.discard(run_id)
                return  # already recorded as interrupted by shutdown()
        try:
            finished = [r for r in results if not r.cancelled]
            ok = sum(1 for r in finished if r.ok)
            failed = sum(1 for r in results if not r.ok)
            rows = sum(r.rows_written for r in results)
            summary = "\n".join(r.summary for r in results)
            undone = cancelled or not complete or any(r.cancelled for r in results) or len(results) < (total or 0)
            if self.stopping.is_set() and undone:
                status = INTERRUPTED
                since = started or self.store.run_started_at(run_id)
                summary = describe_interrupted(self.app.db, since, STOPPED) + ("\n" + summary if summary else "")
            elif cancelled or any(r.cancelled for r in results):
                status = "cancelled"
            else:
                status = "ok" if failed == 0 else ("failed" if ok == 0 else "partial")
            self.store.finish_run(run_id, status=status, ok=ok, failed=failed, rows=rows, summary=summary,
                                  now=self.clock.utcnow(), total=max(total or 0, len(results)))
        finally:
            if self.leases is not None:
                self.leases.release(run_id)

    # ------------------------------------------------------------------ the work
    def _conn_lock(self, cid: int) -> threading.Lock:
        with self._guard:
            return self._conn_locks.setdefault(cid, threading.Lock())

    def _run(self, cid: int, start: dt.date, end: dt.date, progress: list[Progress],
             cancel: threading.Event | _Job | None, refetch: bool = False) -> SyncResult:
        with self._conn_lock(cid):  # one sync per account at a time, whoever asked
            return _ConnectionSync(self, cid, start, end, progress, cancel, refetch).run()

    def is_busy(self, connection_id: int) -> bool:
        """A sync of this connection is running or queued."""
        with self._guard:
            slot = self._slots.get(connection_id)
            return slot is not None and (slot.running is not None or slot.queued is not None)


# waits before storing a chunk again when the database server went away (about a minute in all)
DB_WAITS_S = (2, 4, 8, 16, 30)
FIRST_DOWNLOAD_DAYS = 7  # a new connection's first download: at most this many recent days


class SyncStopped(WearSyncError):
    title = "Download stopped"


class _VirtualTime:
    """Monotonic time plus the waits an injected sleep skipped, so a quota wait ends in tests."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)
        with self._lock:
            self._offset += max(0.0, seconds)


class _ConnectionSync:
    """One sync of one connection (a short-lived object holding the run's state)."""

    def __init__(self, svc: SyncService, cid: int, start: dt.date, end: dt.date, progress: list[Progress],
                 cancel: threading.Event | _Job | None, refetch: bool = False) -> None:
        self.svc = svc
        self.store = svc.store
        self.cid = cid
        self.start, self.end = start, end
        self.progress = progress
        self.cancel = cancel
        self.refetch = refetch
        self.tz: str | None = None
        self.wait: Callable[[float], None] = svc.sleep  # replaced in run() by the cancellable one

    def run(self) -> SyncResult:
        svc = self.svc
        with svc.app.db.session() as s:
            conn = s.get(Connection, self.cid)
            if conn is None:
                raise NotFound("That connection no longer exists.")
            from db.models import Patient

            patient = s.get(Patient, conn.patient_id)
            assert patient is not None
            code, vendor_name, status = patient.code, conn.vendor, conn.status
            self.patient_id, tz = conn.patient_id, conn.timezone
            granted = set(conn.scopes_granted.split())
        result = SyncResult(self.cid, code, vendor_name, self.start, self.end)
        if status not in SYNCABLE:
            return svc._not_syncable(self.cid, code, vendor_name, status)
        vendor = svc.vendors.get(vendor_name)
        limiter, wait = svc.quota()
        if vendor.registers_users:  # such a vendor's quota grows with its registered users
            limiter.set_users(vendor.name, self.store.registered_users(vendor.name))
        self.wait = self._sleeper(wait)
        api = ApiClient(vendor, svc.tokens.provider(self.cid), timeout=svc.http_timeout, sleep=self.wait,
                        limiter=limiter, user_key=str(self.cid), should_stop=self._cancelled)
        try:
            tz = self._refresh_account(vendor, api, tz)
            ctx = FetchContext(tz)
            self.tz = tz
            device_sync = self.store.device_last_sync(self.patient_id, vendor.name)
            wanted = [t for t in vendor.data_types if not (t.scope and t.scope not in granted)]
            plan = {t.name: self._parts(t) for t in wanted}
            # the days about to be fetched are entered in the ledger as "missing" first, so a sync
            # killed, cancelled or stopped by the quota half-way never leaves a day that looks done
            # because another data type of it was (services/sync/catchup.py reads days, not types)
            self.store.reserve_days(self.cid, {n: [d for lo, hi in p for d in days(lo, hi)] for n, p in plan.items()},
                                    svc.clock.utcnow())
            for dtype in vendor.data_types:
                if self._cancelled():
                    result.cancelled = True
                    break
                tr = TypeResult(dtype.name)
                result.types.append(tr)
                if dtype.scope and dtype.scope not in granted:
                    tr.skipped = "not shared by the patient"
                    continue
                self._sync_type(vendor, api, dtype, plan[dtype.name], ctx, device_sync, tr, result)
                if result.status == "needs_reconsent":
                    break
            if ctx.timezone and ctx.timezone != tz:
                self.store.update_connection(self.cid, timezone=ctx.timezone)
        except ConsentRevoked as exc:
            self._reconsent(result, exc.message)
        except (SyncStopped, RequestCancelled):
            result.cancelled = True
        except WearSyncError as exc:  # e.g. client secrets missing
            result.ok = False
            result.errors.append(exc.message)
        missing = tuple(t.data_type for t in result.types if t.skipped)
        result.scopes_missing = missing
        now = svc.clock.utcnow()
        if result.status != "needs_reconsent":
            values: dict[str, object] = {"updated_at": now}
            if any(t.days_ok for t in result.types):
                values["last_sync_at"] = now
            values["status"] = "connected" if result.ok else "error"
            values["last_error"] = " ".join(result.errors)[:2000] if result.errors else None
            self.store.update_connection(self.cid, **values)
        log.info("sync of connection %d finished: %d rows, %d api calls, %d retries, ok=%s",
                 self.cid, result.rows_written, api.calls, api.retries, result.ok)
        return result

    def lookback(self) -> int:
        if not hasattr(self, "_lookback"):
            self._lookback = int(self.svc.app.settings.get("lookback_days"))
        return self._lookback

    def _cancelled(self) -> bool:
        return bool((self.cancel is not None and self.cancel.is_set()) or self.svc.stopping.is_set())

    def _sleeper(self, wait: Callable[[float], None]) -> Callable[[float], None]:
        """The API client's waits (retry backoff, quota) end early when the download is cancelled."""
        svc = self.svc

        def sleep(seconds: float) -> None:
            if self._cancelled():
                raise SyncStopped("The download was cancelled. What was downloaded is kept.")
            if wait != svc._interruptible_sleep:
                wait(seconds)  # an injected (test) sleep does not really wait
                return
            deadline = time.monotonic() + max(0.0, seconds)
            while (left := deadline - time.monotonic()) > 0:
                if svc.stopping.wait(min(left, 0.2)):
                    raise SyncStopped("WearSync is stopping; the download continues at the next start.")
                if self._cancelled():
                    raise SyncStopped("The download was cancelled. What was downloaded is kept.")

        return sleep

    def _reconsent(self, result: SyncResult, message: str) -> None:
        result.ok = False
        result.status = "needs_reconsent"
        result.errors = [message]
        self.svc.tokens.mark_reconsent(self.cid, message)

    def _refresh_account(self, vendor: Vendor, api: ApiClient, tz: str | None) -> str | None:
        """Time zone (travel) and paired devices; a failure here does not stop the data download."""
        try:
            new_tz = vendor.current_timezone(api)
            if new_tz and new_tz != tz:
                self.store.update_connection(self.cid, timezone=new_tz)
                tz = new_tz
            devices = vendor.devices(api)
            if devices is not None:
                self.store.write_devices(self.patient_id, vendor.name, devices, self.svc.clock.utcnow())
        except (ConsentRevoked, RequestCancelled, SyncStopped):
            raise
        except WearSyncError as exc:
            log.warning("%s: could not read settings/devices: %s", vendor.name, exc.message)
        return tz

    def _parts(self, dtype: DataType) -> list[tuple[dt.date, dt.date]]:
        """The chunks still to fetch: days already done for this data type are skipped (resume)."""
        if self.refetch:
            return chunks(self.start, self.end, dtype.chunk_days)
        done = self.store.done_days(self.cid, dtype.name, self.start, self.end)
        today = local_today(self.tz, self.svc.clock.utcnow())
        parts: list[tuple[dt.date, dt.date]] = []
        run: list[dt.date] = []
        for d in [*days(self.start, self.end), None]:
            if d is not None and (d not in done or d >= today):
                run.append(d)
                continue
            if run:
                parts += chunks(run[0], run[-1], dtype.chunk_days)
                run = []
        return parts

    def _sync_type(self, vendor: Vendor, api: ApiClient, dtype: DataType, parts: list[tuple[dt.date, dt.date]],
                   ctx: FetchContext, device_sync: dt.datetime | None, tr: TypeResult, result: SyncResult) -> None:
        for i, (lo, hi) in enumerate(parts, 1):
            if self._cancelled():
                result.cancelled = True
                return
            try:
                records = vendor.fetch(api, dtype.name, lo, hi, ctx)
            except ConsentRevoked:
                raise
            except ScopeDenied:
                tr.skipped = "not shared by the patient"
                return
            except SyncStopped:
                raise
            except RequestCancelled:
                result.cancelled = True  # between two requests of this chunk: the chunk is not marked done
                return
            except WearSyncError as exc:
                if self._cancelled():
                    result.cancelled = True  # stopped mid-request: not a failure of the day
                    return
                self._chunk_failed(dtype, lo, hi, exc.message, tr, result)
                self._report(SyncProgress(self.cid, result.patient_code, result.vendor, dtype.name, i, len(parts),
                                          result.rows_written, (hi - lo).days + 1))
                if isinstance(exc, RateLimited):
                    return  # the quota is used up: the next run continues from the coverage record
                continue
            except Exception as exc:  # a parser bug must not take the other data types down
                log.exception("%s %s: unexpected error in a chunk", vendor.name, dtype.name)
                self._chunk_failed(dtype, lo, hi, f"unexpected error ({type(exc).__name__})", tr, result)
                self._report(SyncProgress(self.cid, result.patient_code, result.vendor, dtype.name, i, len(parts),
                                          result.rows_written, (hi - lo).days + 1))
                continue
            if records.timezone and not ctx.timezone:
                ctx.timezone = records.timezone
            statuses = self._statuses(dtype, records, lo, hi, ctx.timezone, device_sync)
            n = self._write_chunk(vendor.name, dtype.name, records, statuses)
            tr.rows += n
            tr.days_ok += len(statuses)
            result.rows_written += n
            if self.svc.after_chunk is not None:
                self.svc.after_chunk(self.cid, dtype.name, lo, hi)
            self._report(SyncProgress(self.cid, result.patient_code, result.vendor, dtype.name, i, len(parts),
                                      result.rows_written, (hi - lo).days + 1))

    def _write_chunk(self, vendor: str, data_type: str, records: Records, statuses: list[DayStatus]) -> int:
        """Store one downloaded chunk. When the database server goes away mid-write (a restart, a
        failover, the network to it), the chunk's transaction was rolled back whole: wait for the
        server and write the chunk again (the upserts are idempotent), instead of losing the download."""
        for attempt in range(len(DB_WAITS_S) + 1):
            try:  # a deadlock with another connection's download (MariaDB) is run again at once
                return retry_deadlocks(lambda: self.store.write_chunk(
                    self.cid, self.patient_id, vendor, data_type, records, statuses, self.svc.clock.utcnow()))
            except DBAPIError as exc:
                if attempt == len(DB_WAITS_S) or not connection_lost(exc):
                    raise
                log.warning("the database went away while storing %s; trying again in %d s (attempt %d)",
                            data_type, DB_WAITS_S[attempt], attempt + 1)
                self.wait(DB_WAITS_S[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    def _chunk_failed(self, dtype: DataType, lo: dt.date, hi: dt.date, message: str, tr: TypeResult,
                      result: SyncResult) -> None:
        log.warning("%s chunk of %d day(s) failed: %s", dtype.name, (hi - lo).days + 1, message)
        span = days(lo, hi)
        self.store.mark_failed(self.cid, dtype.name, span, message, self.svc.clock.utcnow())
        tr.days_failed += len(span)
        tr.error = message
        result.ok = False
        text = f"{dtype.name.replace('_', ' ')} {lo}..{hi}: {message}"
        if text not in result.errors:
            result.errors.append(text)

    def _statuses(self, dtype: DataType, records: Records, lo: dt.date, hi: dt.date, tz: str | None,
                  device_sync: dt.datetime | None) -> list[DayStatus]:
        counts: dict[dt.date, int] = {}
        for r in getattr(records, dtype.primary):
            counts[r["local_date"]] = counts.get(r["local_date"], 0) + 1
        today = local_today(tz, self.svc.clock.utcnow())
        settled = today - dt.timedelta(days=self.lookback())
        out = []
        for d in days(lo, hi):
            n = counts.get(d, 0)
            if d >= today:
                # the day is not over: partial, so the catch-up and the look-back fetch it again
                out.append(DayStatus(d, "partial", n))
                continue
            if device_sync is not None:
                synced_past = device_sync >= local_midnight_utc(d + dt.timedelta(days=1), tz)
            else:
                # the vendor does not say when the device last synced: within the look-back window
                # an empty day may still fill (a mat or strap that syncs late), so it is not settled
                synced_past = bool(n) or d <= settled
            if n:
                status = "complete" if synced_past else "partial"
            elif not synced_past:
                status = "missing"
            else:
                # checked and nothing there: not worn for all-day data, "nothing that day" otherwise
                status = "not_worn" if dtype.continuous else "complete"
            out.append(DayStatus(d, status, n))
        return out

    def _report(self, p: SyncProgress) -> None:
        for cb in self.progress:
            try:
                cb(p)
            except Exception:
                log.exception("a progress listener failed")
