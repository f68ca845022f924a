"""The one tunnel the window and the tray control, adapted to Qt signals.

Builds a `services.tunnel.TunnelService` from Settings (ngrok_path, ngrok_domain, grafana_port),
the NGROK_AUTHTOKEN secret and the callback port, on a worker thread (the keyring may block and
`start()` blocks for seconds). The service reports changes from pyngrok's monitor thread; they
reach the UI thread through `status_changed`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gui.bridge import Bridge
from services import config
from services.tunnel import TunnelService, TunnelStatus

if TYPE_CHECKING:
    from services.app import WearSync

log = logging.getLogger(__name__)


class TunnelController(QObject):
    status_changed = Signal(TunnelStatus)
    failed = Signal(Exception)
    busy_changed = Signal(bool)
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
        self._from_service.connect(self._on_status, Qt.ConnectionType.QueuedConnection)

    # -- commands (non-blocking) -------------------------------------------------------------
    def refresh(self) -> None:
        self._bridge.submit(self._status_now, on_result=self._on_status, on_error=self._on_error)

    def start(self) -> None:
        self._run(self._start_now)

    def stop(self) -> None:
        self._run(self._stop_now)

    def toggle(self) -> None:
        if self.is_running:
            self.stop()
        else:
            self.start()

    @property
    def is_running(self) -> bool:
        return self.status.state in ("up", "reconnecting", "starting")

    def shutdown(self) -> None:
        """At quit: end the tunnel this window started (blocking, short)."""
        if self._service is not None and self.status.pid == os.getpid():
            try:
                self._service.stop()
            except Exception:
                log.exception("stopping the tunnel at quit failed")

    # -- worker-thread side ------------------------------------------------------------------
    def _build_service(self) -> TunnelService:
        app = self._app
        env = app.environ
        return TunnelService(
            state_dir=app.paths.home,  # the same tunnel.json as `main.py tunnel ...`
            callback_port=config.callback_port(env),
            ngrok_path=env.get("WEARSYNC_NGROK_PATH") or app.settings.get("ngrok_path") or None,
            authtoken=app.secrets.get("NGROK_AUTHTOKEN"),
            domain=env.get("WEARSYNC_NGROK_DOMAIN") or app.settings.get("ngrok_domain") or None,
            grafana_port=int(app.settings.get("grafana_port")) or None,
            on_event=self._from_service.emit,
        )

    def _service_for(self, fresh: bool) -> TunnelService:
        # a running service keeps its instance (it owns the agent); a new start reads new settings
        if self._service is None or (fresh and self.status.pid != os.getpid()):
            self._service = self._factory()
        return self._service

    def _status_now(self) -> TunnelStatus:
        return self._service_for(fresh=False).status()

    def _start_now(self) -> TunnelStatus:
        return self._service_for(fresh=True).start()

    def _stop_now(self) -> TunnelStatus:
        service = self._service_for(fresh=False)
        service.stop()
        return service.status()

    # -- UI-thread side ----------------------------------------------------------------------
    def _run(self, fn: Callable[[], TunnelStatus]) -> None:
        if self.busy:
            return
        self._set_busy(True)
        task = self._bridge.submit(fn, on_result=self._on_status, on_error=self._on_error)
        task.finished.connect(lambda: self._set_busy(False))

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.busy_changed.emit(busy)

    @Slot(TunnelStatus)
    def _on_status(self, status: TunnelStatus) -> None:
        self.status = status
        self.status_changed.emit(status)

    def _on_error(self, error: Exception) -> None:
        self.failed.emit(error)
