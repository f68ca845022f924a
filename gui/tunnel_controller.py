"""The one tunnel the window and the tray control, adapted to Qt signals.

Builds a `services.reach.tunnel.TunnelService` with `services.reach.tunnel_setup.build_tunnel` (settings,
NGROK_AUTHTOKEN, Grafana protection), on a worker thread (the keyring may block and `start()`
blocks for seconds). The service reports changes from pyngrok's monitor thread; they reach the UI
thread through `status_changed`. Health is also polled every few seconds (`start_polling`), off the
UI thread, so a tunnel that died or was started from the command line shows up without a click.
While the tunnel is up, the app's redirect URIs and enrolment links use its public address.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from gui.bridge import Bridge
from gui.errors import advice_for
from services.accounts.actor import Actor
from services.reach.tunnel import (
    NgrokAuthtokenMissingError,
    NgrokAuthtokenRejectedError,
    NgrokNotInstalledError,
    TunnelConfigError,
    TunnelService,
    TunnelStatus,
)
from services.reach.tunnel_setup import PublicAddress, build_tunnel, follow_tunnel, start_tunnel, stop_tunnel

if TYPE_CHECKING:
    from services.app import WearSync

log = logging.getLogger(__name__)

# Errors fixed in the tunnel settings (path, token, domain): the page offers a button to them.
FIXED_IN_SETTINGS = (NgrokNotInstalledError, NgrokAuthtokenMissingError, NgrokAuthtokenRejectedError,
                     TunnelConfigError)


def tunnel_failure_text(error: Exception) -> str:
    """What the page and the tray say about a failed start: what happened and what to do."""
    message = advice_for(error).message
    if isinstance(error, FIXED_IN_SETTINGS):
        return f"The tunnel did not start. {message}"
    return f"The tunnel did not start. {message} Press Start tunnel to try again."


class TunnelController(QObject):
    status_changed = Signal(TunnelStatus)
    failed = Signal(Exception)
    busy_changed = Signal(bool)
    error_changed = Signal(object)  # the failure that stays visible (Exception) or None once cleared
    #: (user, password) of a Grafana sign-in made because none was set: shown to the coordinator once
    grafana_signin_made = Signal(str, str)
    _from_service = Signal(TunnelStatus)  # any thread -> UI thread

    def __init__(self, app: WearSync, bridge: Bridge,
                 service_factory: Callable[[], TunnelService] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._app = app
        self._bridge = bridge
        self._factory = service_factory or self._build_service
        self._service: TunnelService | None = None
        self.status = TunnelStatus("down", message="The tunnel is not running.")
        self.busy = False
        self.address: PublicAddress | None = None  # the app's public address, following the tunnel
        # why the last start or stop failed; kept (for the page and the tray) until the next attempt
        self.last_error: Exception | None = None
        self._from_service.connect(self._on_status, Qt.ConnectionType.QueuedConnection)
        # polls run on their own single thread, so they neither queue behind long jobs nor make
        # the window's "Working…" flicker every few seconds
        self._poller = Bridge(max_threads=1, parent=self)
        self._polling = False
        self._poll_timer = QTimer(self)
        self._poll_timer.timeout.connect(self._poll)

    def start_polling(self, interval_ms: int = 5000) -> None:
        self._poll_timer.start(interval_ms)

    def stop_polling(self) -> None:
        self._poll_timer.stop()

    def _poll(self) -> None:
        if self._polling or self.busy:
            return
        self._polling = True
        task = self._poller.submit(self._status_now, on_result=self._on_poll, on_error=lambda _e: None)
        task.finished.connect(self._poll_done)

    def _on_poll(self, status: TunnelStatus) -> None:
        if self.busy:
            return  # asked before a start/stop began: that command's answer is the news
        if status != self.status:
            self._on_status(status)

    def _poll_done(self) -> None:
        self._polling = False

    # -- commands (non-blocking) -------------------------------------------------------------
    def refresh(self) -> None:
        self._bridge.submit(self._status_now, on_result=self._on_status, on_error=self._on_error)

    # `actor`: the person who clicked (the service checks their role and records it); None is the
    # app itself, e.g. "start the tunnel with WearSync" chosen earlier by an administrator
    def start(self, actor: Actor | None = None) -> None:
        self._run(lambda: self._start_now(actor), attempt=True)

    def stop(self, actor: Actor | None = None) -> None:
        self._run(lambda: self._stop_now(actor), attempt=True)

    def toggle(self, actor: Actor | None = None) -> None:
        if self.is_running:
            self.stop(actor)
        else:
            self.start(actor)

    @property
    def is_running(self) -> bool:
        return self.status.state in ("up", "reconnecting", "starting")

    def shutdown(self) -> None:
        """At quit: end the tunnel this window started (blocking, short)."""
        self._poll_timer.stop()
        self._poller.shutdown(2000)
        if self._service is not None and self.status.pid == os.getpid():
            try:
                self._service.stop()
            except Exception:
                log.exception("stopping the tunnel at quit failed")

    # -- worker-thread side ------------------------------------------------------------------
    def _build_service(self) -> TunnelService:
        return build_tunnel(self._app, on_event=self._from_service.emit,
                            on_new_password=self.grafana_signin_made.emit)

    def _service_for(self, fresh: bool) -> TunnelService:
        # a running service keeps its instance (it owns the agent); a new start reads new settings
        if self.address is None:
            self.address = follow_tunnel(self._app)
        if self._service is None or (fresh and self.status.pid != os.getpid()):
            self._service = self._factory()
        return self._service

    def _track(self, status: TunnelStatus) -> TunnelStatus:
        # on the worker thread, before the UI hears of it: a link made right after "up" is right
        if self.address is not None:
            self.address.update(status)
        return status

    def _status_now(self) -> TunnelStatus:
        return self._track(self._service_for(fresh=False).status())

    def _start_now(self, actor: Actor | None = None) -> TunnelStatus:
        if actor is not None:
            actor.require("tunnel")  # before building the service: a refused start touches nothing
            return self._track(start_tunnel(self._app, self._service_for(fresh=True), actor))
        return self._track(self._service_for(fresh=True).start())

    def _stop_now(self, actor: Actor | None = None) -> TunnelStatus:
        if actor is not None:
            actor.require("tunnel")
        service = self._service_for(fresh=False)
        if actor is not None:
            stop_tunnel(self._app, service, actor)
        else:
            service.stop()
        return self._track(service.status())

    # -- UI-thread side ----------------------------------------------------------------------
    def _run(self, fn: Callable[[], TunnelStatus], attempt: bool = False) -> None:
        if self.busy:
            return
        if attempt and self.last_error is not None:
            self.last_error = None  # a new attempt: the old failure is no longer the news
            self.error_changed.emit(None)
        self._set_busy(True)
        task = self._bridge.submit(fn, on_result=self._on_status, on_error=self._on_error)
        task.finished.connect(lambda: self._set_busy(False))

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.busy_changed.emit(busy)

    @Slot(TunnelStatus)
    def _on_status(self, status: TunnelStatus) -> None:
        if self.address is not None:
            self.address.update(status)  # events from pyngrok's thread arrive here
        self.status = status
        self.status_changed.emit(status)

    @property
    def public_url(self) -> str | None:
        """The tunnel's public callback address while it is up."""
        return self.status.callback_url if self.status.state in ("up", "reconnecting") else None

    @property
    def grafana_url(self) -> str | None:
        return self.status.grafana_url if self.status.state in ("up", "reconnecting") else None

    def _on_error(self, error: Exception) -> None:
        self.last_error = error
        self.error_changed.emit(error)
        self.failed.emit(error)
