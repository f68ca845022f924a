"""The application facade: one object that owns the services. The GUI and the CLI use only this.

It owns the app's one clock (`clock`, services/clock.py) and builds every service, handing each
what it needs (database, settings, clock, audit trail, secrets, vendors...). Services never import
this module: each names what it needs from the app as a small Protocol beside it (a test checks).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from db.engine import Database
from services import config
from services.accounts.audit import AuditLog
from services.accounts.keys import KeyService
from services.accounts.service import AccountService
from services.clock import Clock
from services.crypto import TokenCipher
from services.patients.service import PatientService
from services.secrets import SecretStore
from services.settings import Settings

if TYPE_CHECKING:
    import datetime as dt

    from services.alerts.service import AlertService
    from services.connect.service import ConnectionService, ConnectOutcome
    from services.connect.tokens import TokenManager
    from services.data.charts import ChartService
    from services.data.compliance import ComplianceService
    from services.data.deletion import DeletionService
    from services.data.report import ReportService
    from services.sync.interrupted import RunLeases
    from services.sync.scheduler import SchedulerEvent, SyncScheduler
    from services.sync.service import SyncService
    from services.vendors import VendorRegistry

log = logging.getLogger(__name__)


class WearSync:
    """Build with `WearSync.open()`; close with `close()`."""

    def __init__(self, db: Database, paths: config.Paths, environ: Mapping[str, str],
                 clock: Clock | None = None) -> None:
        self.environ = environ
        self.paths = paths
        self.db = db
        # the one source of "now" for every service, the scheduler, the sandbox and the GUI
        self.clock = clock or Clock.from_environ(environ)
        self.secrets = SecretStore(environ)
        self.cipher = TokenCipher(self.secrets)
        self.audit = AuditLog(db, self.clock)
        self.settings = Settings(db, self.audit)
        self.patients = PatientService(db, self.audit, self.clock)
        self.keys = KeyService(db, self.audit, self.clock)
        self.accounts = AccountService(db, self.audit, self.keys, self.clock)
        self._background_starters: list[Callable[[], None]] = [self._reopen_sync, self._start_callback_listener,
                                                                self._start_first_downloads]
        self._background_stoppers: list[Callable[[], None]] = [self._stop_connect_and_sync]
        self.scheduler: SyncScheduler | None = None  # set by attach_flow()
        #: until when (time.monotonic()) stopping waits for a running download (None: until it ends)
        self._stop_deadline: float | None = None
        #: plain sentences about downloads interrupted when WearSync last ended (see interruptions())
        self.interrupted_notes: list[str] = []
        #: existing patient IDs outside the allowed characters, found at start: to be renamed
        self.codes_to_rename: list[str] = []

    @classmethod
    def open(cls, environ: Mapping[str, str] | None = None, migrate: bool = True,
             clock: Clock | None = None) -> WearSync:
        env = dict(os.environ if environ is None else environ)
        clock = clock or Clock.from_environ(env)
        paths = config.paths(env).ensure()
        db = Database(config.database_url(env))
        if migrate:
            from services.schema import upgrade_at_start

            try:
                backup = upgrade_at_start(db, paths.backups, env, now=clock.utcnow())
            except Exception:
                db.dispose()
                raise
            if backup:
                log.info("backup made before the schema upgrade: %s", Path(backup).name)
        app = cls(db, paths, env, clock)
        try:
            app.patients.purge_deleted()
        except Exception:  # housekeeping must never stop the app from opening
            log.exception("purging deleted patients failed")
        try:
            app.keys.purge_expired_keys()
        except Exception:
            log.exception("purging expired registration keys failed")
        try:
            app.deletions.purge()
        except Exception:
            log.exception("purging the kept rows of old data deletions failed")
        try:
            app.codes_to_rename = app.patients.codes_to_rename()
        except Exception:
            log.exception("checking the patient IDs failed")
        if app.codes_to_rename:
            # how many, never which: the log holds no patient data. INFO: the log file, not a command's
            # stderr (one line there, for its own failure); the window and `patients list` show which
            log.info("%d patient ID(s) use characters other than letters, digits, '-', '_' and '.'; rename "
                        "them (marked on the Patients page and in `main.py patients list`)", len(app.codes_to_rename))
        return app

    def close(self) -> None:
        self._stop_connect_and_sync()
        self.db.dispose()

    def shutdown(self, timeout: float = 4.0) -> None:
        """The end of the session or the process (SIGTERM, log-off, quit): stop the scheduler, stop
        the running downloads between two requests waiting at most `timeout` seconds (one still busy
        then is recorded as interrupted; its uncommitted chunk is fetched again at the next start),
        and close the database."""
        self._set_stop_deadline(timeout)
        try:
            self.stop_background()
        finally:
            self.close()

    # Connecting vendor accounts and downloading (issue 3), built on first use so that commands
    # which need neither stay fast. `environ` may carry the sandbox overlay (services/sandbox/mode.py).
    @cached_property
    def vendors(self) -> VendorRegistry:
        from services.vendors import VendorRegistry

        registry = VendorRegistry(self.environ, self.secrets, self.clock)
        registry.register_client_checks(self.secrets, lambda: config.redirect_uri(self.environ))
        return registry

    @cached_property
    def tokens(self) -> TokenManager:
        from services.connect.tokens import TokenManager

        return TokenManager(self.db, self.cipher, self.vendors)

    @cached_property
    def connections(self) -> ConnectionService:
        from services.connect.service import ConnectionService

        return ConnectionService(self, self.vendors, self.tokens)

    @cached_property
    def sync(self) -> SyncService:
        from services.sync.service import SyncService

        return SyncService(self, self.vendors, self.tokens, leases=self.run_leases)

    @cached_property
    def run_leases(self) -> RunLeases:
        """A locked file per running download, so one cut short by a crash is found at the next start."""
        from services.sync.interrupted import RunLeases

        return RunLeases(self.paths.state / "sync-runs", self.db.safe_url())

    def interruptions(self) -> list[str]:
        """At start (window, --headless): record the downloads a dead process left "running" as
        interrupted, and return (and keep in `interrupted_notes`) the plain sentences about what was
        interrupted since the last download that ended normally. The catch-up resumes them."""
        from services.sync import interrupted

        try:
            interrupted.recover(self.db, self.run_leases, self.clock.utcnow())
            self.interrupted_notes = interrupted.notes(self.db)
        except Exception:  # never stops the app from starting
            log.exception("checking for interrupted downloads failed")
        return self.interrupted_notes

    @cached_property
    def deletions(self) -> DeletionService:
        """Deleting part of a patient's data, with undo (services/data/deletion.py)."""
        from services.data.deletion import DeletionService, vendors_offering

        return DeletionService(self.db, self.audit, vendors_offering(lambda: self.vendors),  # vendors on first use
                               clock=self.clock.utcnow)

    @cached_property
    def alerts(self) -> AlertService:
        from services.alerts.service import attach_alerts

        return attach_alerts(self)

    def add_background(self, start: Callable[[], None], stop: Callable[[], None]) -> None:
        """Run `start` with the other background services and `stop` (in reverse order) with them."""
        self._background_starters.append(start)
        self._background_stoppers.append(stop)

    # Seeing the data (issue 10): chart series, the compliance grid and the printable report.
    @cached_property
    def charts(self) -> ChartService:
        from services.data.charts import ChartService

        return ChartService(self.db, clock=self.clock.utcnow)

    @cached_property
    def compliance(self) -> ComplianceService:
        from services.data.compliance import ComplianceService

        return ComplianceService(self.db, self.settings)

    @cached_property
    def reports(self) -> ReportService:
        from services.data.report import ReportService

        return ReportService(self.db, self.settings, self.charts, self.compliance, clock=self.clock.utcnow)

    def attach_flow(self, *, clock: Clock | None = None, scheduler: object | None = None,
                    timezone: dt.tzinfo | None = None,
                    on_event: Callable[[SchedulerEvent], None] | None = None) -> SyncScheduler:
        """Keep data flowing (issue 4): the daily download, catch-up on start and after sleep,
        housekeeping and the alert digest, started and stopped with the background services.

        The GUI and `--headless` both call this once; a second call returns the same scheduler.
        `scheduler` and `timezone` are test seams (a stepped APScheduler); `clock` too (normally the
        app's own: a test pins `app.clock` instead, which moves every service at once).
        """
        if self.scheduler is not None:
            return self.scheduler
        from apscheduler.schedulers.base import BaseScheduler

        from services.alerts.service import attach_alerts
        from services.sync.scheduler import attach_scheduler

        if clock is not None:
            self.__dict__["alerts"] = attach_alerts(self, clock=clock)
        alerts = self.alerts
        sched = attach_scheduler(self, self.sync.sync_days, clock or self.clock, on_event=on_event,
                                 check_alerts=alerts.run,
                                 scheduler=scheduler if isinstance(scheduler, BaseScheduler) else None,
                                 timezone=timezone)
        sched.housekeeping_tasks.append(("forget alerts sent long ago", alerts.prune_sent))
        self.scheduler = sched
        return sched

    def _start_callback_listener(self) -> None:
        # a busy port must not stop the rest of the app: the GUI shows connections.listener_error
        from services.errors import WearSyncError

        try:
            self.connections.start_listener()
            self.connections.listener_error = None
        except WearSyncError as exc:
            self.connections.listener_error = exc
            log.error("the OAuth callback listener did not start: %s", exc.message)

    def _start_first_downloads(self) -> None:
        """A consent that just arrived starts that account's first download in the background, so a
        new patient's data does not wait for the night's run or a click on "Sync now"."""
        hooks = self.connections.on_change
        if self._download_after_connect not in hooks:
            hooks.append(self._download_after_connect)

    def _download_after_connect(self, outcome: ConnectOutcome) -> None:
        # on the callback listener's thread: answer the patient's browser at once, download elsewhere
        if not outcome.ok:
            return

        def run() -> None:
            try:
                self.sync.first_download(outcome.patient_code, outcome.vendor)
            except Exception:
                log.exception("the first download after a connection failed")

        threading.Thread(target=run, name="first-download", daemon=True).start()

    def _stop_connect_and_sync(self) -> None:
        import time

        deadline = self._stop_deadline
        if "sync" in self.__dict__:  # first: the download is what the time bound is for
            if deadline is None:
                self.sync.shutdown()
            else:
                self.sync.shutdown(timeout=max(0.0, deadline - time.monotonic() - 0.5))
        if "connections" in self.__dict__:
            grace = None if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
            self.connections.stop_listener() if grace is None else self.connections.stop_listener(grace)
            if self._download_after_connect in self.connections.on_change:
                self.connections.on_change.remove(self._download_after_connect)

    def _set_stop_deadline(self, timeout: float) -> None:
        import time

        self._stop_deadline = time.monotonic() + timeout

    def _reopen_sync(self) -> None:
        self._stop_deadline = None
        if "sync" in self.__dict__:  # started again after a stop (e.g. a database move)
            self.sync.reopen()

    # Background work (scheduler, callback listener, tunnel) is attached by later services;
    # the GUI and --headless both call these two.
    def start_background(self) -> None:
        for start in self._background_starters:
            start()

    def stop_background(self, timeout: float | None = None) -> None:
        """`timeout`: how long a running download may take to stop (None: until it ends; see shutdown())."""
        if timeout is not None:
            self._set_stop_deadline(timeout)
        for stop in reversed(self._background_stoppers):
            try:
                stop()
            except Exception:
                log.exception("stopping a background service failed")
