"""The background scheduler: the daily download, catch-up after sleep or shutdown, housekeeping.

APScheduler 3 runs the jobs in its own thread (the GUI and `--headless` own one through
`attach_scheduler`). Rules (STYLE.md "The scheduler survives sleep"):
- every job is `coalesce=True` and `max_instances=1`, the daily one with a generous misfire grace;
  missed and failed runs are logged and reported to listeners;
- which days to fetch comes from the coverage ledger (services/sync/catchup.py), never from the timer:
  on start, after a wake-up and at the daily time, each connection gets exactly the days it lacks,
  at most `catchup_max_days` back (a setting); older days it lacks are reported as gaps to backfill
  (RunOutcome.gaps and a "gap" event), never skipped silently;
- one sync at a time: a trigger arriving while a sync runs is merged into one follow-up pass that
  re-reads the ledger, so no day is requested twice;
- time comes from the app's clock (services/clock.py, `local_now()`), which tests pin and move;
- a one-minute heartbeat notices a wall-clock jump (the machine slept: the scheduler's own timers
  run on a clock that stops during suspend) and starts the catch-up; it also picks up a changed
  daily time saved by another process.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from db.engine import Database
from services.clock import Clock
from services.settings import Settings, parse_hhmm
from services.sync.catchup import Gap, Plan, gaps_beyond, group_by_days, max_days_setting, missing_days

if TYPE_CHECKING:
    from services.accounts.actor import Actor
    from services.alerts.service import DigestResult
    from services.patients.service import PatientService

log = logging.getLogger(__name__)

JOB_DAILY = "daily-sync"
JOB_CATCHUP = "catch-up"
JOB_MANUAL = "update-now"
JOB_HEARTBEAT = "heartbeat"
JOB_HOUSEKEEPING = "housekeeping"
SYNC_JOBS = (JOB_DAILY, JOB_CATCHUP, JOB_MANUAL)



class SchedulerHost(Protocol):
    """What the scheduler needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def patients(self) -> PatientService: ...
    @property
    def clock(self) -> Clock: ...

    def add_background(self, start: Callable[[], None], stop: Callable[[], None]) -> None: ...


class RunSync(Protocol):
    """What the scheduler calls to download (SyncService.sync_all at merge).

    `days` None means "the usual incremental sync"; otherwise exactly these patient-local days.
    `connection_ids` None means every syncable connection; otherwise only these.
    """

    def __call__(self, trigger: str, days: list[dt.date] | None,
                 connection_ids: list[int] | None = None) -> object: ...


@dataclass(frozen=True)
class SchedulerEvent:
    """What listeners hear. kind: started, finished, merged, skipped, missed, error, wake, alerts,
    gap (days older than the catch-up cap that need a backfill), housekeeping. `message` is a plain
    sentence for the log view or a tray notification."""

    kind: str
    message: str
    at: dt.datetime
    digest: DigestResult | None = None


@dataclass(frozen=True)
class RunOutcome:
    trigger: str
    started: dt.datetime
    finished: dt.datetime
    plan: Plan  # connection id -> the days requested for it in this run
    results: list[object] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    digest: DigestResult | None = None
    gaps: list[Gap] = field(default_factory=list)  # days older than the cap, left for a backfill


@dataclass(frozen=True)
class SchedulerStatus:
    started: bool
    busy: bool
    current_trigger: str | None
    sync_time: str
    next_run: dt.datetime | None
    last_started: dt.datetime | None
    last_finished: dt.datetime | None
    last_error: str | None


class SyncScheduler:
    """Owns the APScheduler instance and the single-flight rule. Build with `attach_scheduler`."""

    def __init__(
        self,
        app: SchedulerHost,
        run_sync: RunSync,
        *,
        clock: Clock | None = None,
        on_event: Callable[[SchedulerEvent], None] | None = None,
        check_alerts: Callable[[], DigestResult] | None = None,
        scheduler: BaseScheduler | None = None,
        timezone: dt.tzinfo | None = None,
        misfire_grace_s: int = 12 * 3600,
        heartbeat_s: int = 60,
        wake_gap_s: int = 300,
        max_days: int | None = None,
    ) -> None:
        self._app = app
        self._run_sync = run_sync
        self._clock = clock or app.clock  # read as local_now(): aware, in the host's zone
        self.listeners: list[Callable[[SchedulerEvent], None]] = [on_event] if on_event else []
        self._check_alerts = check_alerts
        tz_opts = {"timezone": timezone} if timezone is not None else {}
        self._scheduler = scheduler if scheduler is not None else BackgroundScheduler(daemon=True, **tz_opts)
        self._misfire_grace_s = misfire_grace_s
        self._heartbeat_s = heartbeat_s
        self._wake_gap_s = wake_gap_s
        self._max_days = max_days  # None: the `catchup_max_days` setting, read at each pass
        self.housekeeping_tasks: list[tuple[str, Callable[[], object]]] = _default_housekeeping(app)
        self._scheduler.add_listener(self._on_job_event,
                                     EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)

        self._state = threading.Lock()
        self._closing = False  # stop() was called: a pass under way queues nothing more
        self._busy = False
        self._pending = False
        self._current: str | None = None
        self._last_beat: dt.datetime | None = None
        self._sync_time: str | None = None
        self._last_started: dt.datetime | None = None
        self._last_finished: dt.datetime | None = None
        self._last_error: str | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def scheduler(self) -> BaseScheduler:
        return self._scheduler

    def start(self) -> None:
        if self._scheduler.state != STATE_STOPPED:
            return
        self._closing = False
        self._last_beat = self._clock.local_now()
        self._add_daily_job()
        self._scheduler.add_job(self.heartbeat, IntervalTrigger(seconds=self._heartbeat_s, timezone=self._tz),
                                id=JOB_HEARTBEAT, name="heartbeat", coalesce=True, max_instances=1,
                                misfire_grace_time=None, replace_existing=True)
        self._scheduler.add_job(self.housekeeping,
                                IntervalTrigger(hours=24, start_date=self._timer_now() + dt.timedelta(minutes=5),
                                                timezone=self._tz),
                                id=JOB_HOUSEKEEPING, name="housekeeping", coalesce=True, max_instances=1,
                                misfire_grace_time=None, replace_existing=True)
        self._scheduler.start()
        # the catch-up after a shutdown runs in the scheduler's thread: the window opens at once
        self.trigger_catchup()
        log.info("scheduler started; daily download at %s", self._sync_time)

    def stop(self) -> None:
        self._closing = True  # a pass under way ends after its current group (no new work)
        if self._scheduler.state == STATE_STOPPED:
            return
        # a running download is not waited for here: the sync service stops its own workers
        self._scheduler.shutdown(wait=False)
        log.info("scheduler stopped")

    # ------------------------------------------------------------------ the daily time
    @property
    def _tz(self) -> dt.tzinfo:
        tz: dt.tzinfo = self._scheduler.timezone
        return tz

    def _read_sync_time(self) -> str:
        raw = self._app.settings.get("sync_time")
        try:
            hour, minute = parse_hhmm(raw)
        except Exception:
            log.warning("the stored daily download time is not a time of day; using 00:00")
            hour, minute = 0, 0
        return f"{hour:02d}:{minute:02d}"

    def _add_daily_job(self) -> None:
        self._sync_time = self._read_sync_time()
        hour, minute = parse_hhmm(self._sync_time)
        self._scheduler.add_job(self.run_daily, CronTrigger(hour=hour, minute=minute, timezone=self._tz),
                                id=JOB_DAILY, name="daily download", coalesce=True, max_instances=1,
                                misfire_grace_time=self._misfire_grace_s, replace_existing=True)

    def set_sync_time(self, raw: str, actor: Actor | None = None) -> str:
        """Validate and save the daily time ("HH:MM"), and move the job; returns it normalised.

        Bad input raises InvalidInput and changes nothing. `actor`: the person changing it (needs the
        "settings" permission; audited), None for internal callers.
        """
        self._app.settings.set("sync_time", raw, actor=actor)
        self.reschedule()
        return self._sync_time or self._read_sync_time()

    def reschedule(self) -> None:
        """Follow the stored daily time (called after a change, and by the heartbeat)."""
        wanted = self._read_sync_time()
        if wanted == self._sync_time and self._scheduler.get_job(JOB_DAILY) is not None:
            return
        self._add_daily_job()
        log.info("daily download moved to %s", wanted)

    def status(self) -> SchedulerStatus:
        job = self._scheduler.get_job(JOB_DAILY)
        next_run = getattr(job, "next_run_time", None) if job is not None else None
        with self._state:
            return SchedulerStatus(
                started=self._scheduler.state != STATE_STOPPED,
                busy=self._busy,
                current_trigger=self._current,
                sync_time=self._sync_time or self._read_sync_time(),
                next_run=next_run,
                last_started=self._last_started,
                last_finished=self._last_finished,
                last_error=self._last_error,
            )

    # ------------------------------------------------------------------ triggers
    def trigger_catchup(self) -> None:
        """Fill missed days soon, in the scheduler's thread (returns at once)."""
        self._once(self.run_catchup, JOB_CATCHUP, requested_at=self._clock.local_now())

    def trigger_now(self) -> None:
        """Update now (tray, GUI): a pass over the ledger in the scheduler's thread."""
        self._once(self.run_manual, JOB_MANUAL)

    def _timer_now(self) -> dt.datetime:
        """The time APScheduler's timers run on (its own reading of the system clock, as a "date"
        trigger made now holds it). It differs from the app's clock only by the test offset; the
        days to fetch, wake-ups and events always use the app's clock."""
        run_date: dt.datetime = DateTrigger(timezone=self._tz).run_date
        return run_date

    def _once(self, func: Callable[..., object], job_id: str, **kwargs: object) -> None:
        if self._scheduler.state == STATE_STOPPED:
            return
        self._scheduler.add_job(func, DateTrigger(timezone=self._tz), kwargs=kwargs, id=job_id, coalesce=True,
                                max_instances=1, misfire_grace_time=None, replace_existing=True)

    def run_daily(self) -> RunOutcome | None:
        return self.run("schedule")

    def run_catchup(self, requested_at: dt.datetime | None = None) -> RunOutcome | None:
        """A pass that started after the request already read the ledger: nothing left to do."""
        with self._state:
            covered = requested_at is not None and self._last_started is not None \
                and self._last_started >= requested_at and not self._busy
        if covered:
            log.info("catch-up not needed: a download started since it was requested")
            return None
        return self.run("catchup")

    def run_manual(self) -> RunOutcome | None:
        return self.run("manual")

    def run(self, trigger: str) -> RunOutcome | None:
        """One pass: fetch what the ledger lacks, then the alert check. Blocks until done.

        Returns None when another pass is running: that one re-reads the ledger when it ends.
        """
        with self._state:
            if self._busy:
                self._pending = True
                merged = self._current
            else:
                self._busy, self._pending, self._current = True, False, trigger
                merged = None
        if merged is not None:
            self._emit("merged", f"A download ({merged}) is already running; this request joins it.")
            return None
        try:
            return self._run_locked(trigger)
        finally:
            with self._state:
                self._busy, self._pending, self._current = False, False, None

    def _run_locked(self, trigger: str) -> RunOutcome:
        started = self._clock.local_now()
        with self._state:
            self._last_started = started
        self._emit("started", f"Download started ({trigger}).")
        requested: Plan = {}
        results: list[object] = []
        errors: list[str] = []
        while True:
            plan = self._plan(requested)
            for days, conn_ids in group_by_days(plan):
                if self._closing:
                    break  # WearSync is stopping: the next start's catch-up fetches the rest
                try:
                    results.append(self._run_sync(trigger, days, conn_ids))
                except Exception as exc:
                    # one failing group must not stop the others, nor the alert check
                    log.exception("sync (%s) failed for %d connection(s)", trigger, len(conn_ids))
                    errors.append(f"{type(exc).__name__}: {exc}")
                for cid in conn_ids:
                    requested.setdefault(cid, []).extend(days)
            with self._state:
                if not self._pending or self._closing:
                    break
                self._pending = False
            trigger = "catchup"  # the merged follow-up pass
        gaps = [] if self._closing else self._gaps()
        digest = None if self._closing else self._alerts()  # no digest from a pass cut short
        finished = self._clock.local_now()
        with self._state:
            self._last_finished = finished
            self._last_error = errors[-1] if errors else None
        n_days = sum(len(d) for d in requested.values())
        if errors:
            self._emit("error", f"Download finished with {len(errors)} failure(s); see the log.")
        self._emit("finished", f"Download finished: {len(requested)} connection(s), {n_days} day(s).")
        return RunOutcome(trigger, started, finished, requested, results, errors, digest, gaps)

    def _cap(self) -> int:
        return self._max_days if self._max_days is not None else max_days_setting(self._app.settings)

    def _plan(self, already: Plan) -> Plan:
        today = self._clock.local_now().date()
        lookback = int(self._app.settings.get("lookback_days"))
        plan = missing_days(self._app.db, today, lookback, max_days=self._cap())
        out: Plan = {}
        for cid, days in plan.items():
            seen = set(already.get(cid, ()))
            fresh = [d for d in days if d not in seen]
            if fresh:
                out[cid] = fresh
        return out

    def _gaps(self) -> list[Gap]:
        """Days older than the cap that this pass did not fetch: said, not skipped."""
        try:
            gaps = gaps_beyond(self._app.db, self._clock.local_now().date(), self._cap())
        except Exception as exc:  # the report never breaks the sync
            log.exception("looking for days older than the catch-up limit failed")
            self._emit("error", f"Checking for days that need a backfill failed: {type(exc).__name__}.")
            return []
        for gap in gaps:
            log.warning("%d day(s) of a connection lie beyond the catch-up limit and need a backfill", gap.days)
            self._emit("gap", gap.message())
        return gaps

    def _alerts(self) -> DigestResult | None:
        if self._check_alerts is None:
            return None
        try:
            digest = self._check_alerts()
        except Exception as exc:  # alerts never break the sync
            log.exception("alert check failed")
            self._emit("error", f"The alert check failed: {type(exc).__name__}.")
            return None
        if digest.alerts:
            self._emit("alerts", digest.summary(), digest=digest)
        return digest

    # ------------------------------------------------------------------ heartbeat & housekeeping
    def heartbeat(self) -> None:
        now = self._clock.local_now()
        with self._state:
            last, self._last_beat = self._last_beat, now
        try:
            self.reschedule()
        except Exception:
            log.exception("reading the daily download time failed")
        if last is not None:
            gap = (now - last).total_seconds()
            if gap > self._wake_gap_s:
                minutes = round(gap / 60)
                log.info("wall clock jumped %d min between heartbeats: catching up", minutes)
                self._emit("wake", f"The computer was asleep or off for about {minutes} minutes; "
                                   "fetching any days that were missed.")
                self.trigger_catchup()

    def housekeeping(self) -> None:
        for name, task in self.housekeeping_tasks:
            try:
                result = task()
                log.info("housekeeping: %s -> %s", name, result)
            except Exception:
                log.exception("housekeeping task %s failed", name)
                self._emit("error", f"Housekeeping ({name}) failed; see the log.")

    # ------------------------------------------------------------------ events
    def _on_job_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            when = getattr(event, "scheduled_run_time", None)
            at = when.strftime("%Y-%m-%d %H:%M") if isinstance(when, dt.datetime) else "its time"
            log.warning("job %s missed its run at %s", event.job_id, at)
            self._emit("missed", f"The {event.job_id} planned for {at} was missed (the computer was "
                                 "asleep or off); the missing days are fetched now.")
            self.trigger_catchup()
        elif event.code == EVENT_JOB_ERROR and isinstance(event, JobExecutionEvent):
            exc = event.exception
            with self._state:
                self._last_error = f"{type(exc).__name__}: {exc}"
            log.error("job %s failed: %s", event.job_id, type(exc).__name__)
            self._emit("error", f"The {event.job_id} failed ({type(exc).__name__}); it will be retried "
                                "at the next run. See the log for details.")
        elif event.code == EVENT_JOB_MAX_INSTANCES and event.job_id in SYNC_JOBS:
            log.info("job %s still running; the new run is merged into it", event.job_id)
            with self._state:
                if self._busy:
                    self._pending = True
            self._emit("skipped", f"The {event.job_id} is still running; not starting it twice.")

    def _emit(self, kind: str, message: str, digest: DigestResult | None = None) -> None:
        event = SchedulerEvent(kind, message, self._clock.local_now(), digest)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a scheduler listener failed")


def _default_housekeeping(app: SchedulerHost) -> list[tuple[str, Callable[[], object]]]:
    tasks: list[tuple[str, Callable[[], object]]] = [("purge deleted patients", app.patients.purge_deleted)]
    # registration keys arrive with the accounts work; use their purge when it exists
    for owner_name in ("accounts", "keys", "registration"):
        owner = getattr(app, owner_name, None)
        for method in ("purge_expired_keys", "purge_expired"):
            fn = getattr(owner, method, None) if owner is not None else None
            if callable(fn):
                tasks.append((f"purge expired registration keys ({owner_name}.{method})", fn))
                return tasks
    return tasks


def attach_scheduler(
    app: SchedulerHost,
    run_sync: RunSync,
    clock: Clock | None = None,
    *,
    on_event: Callable[[SchedulerEvent], None] | None = None,
    check_alerts: Callable[[], DigestResult] | None = None,
    scheduler: BaseScheduler | None = None,
    timezone: dt.tzinfo | None = None,
) -> SyncScheduler:
    """Build the scheduler and hook it to the app's background start/stop.

    `check_alerts` runs after each pass (the facade passes the e-mail digest of
    services/alerts/service.py; sync does not import alerts). `clock` defaults to the app's.
    """
    if check_alerts is None:
        raise ValueError("the scheduler needs the alert check to run after each pass (check_alerts=)")
    sched = SyncScheduler(app, run_sync, clock=clock, on_event=on_event, check_alerts=check_alerts,
                          scheduler=scheduler, timezone=timezone)
    app.add_background(sched.start, sched.stop)
    return sched
