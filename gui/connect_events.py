"""The Qt adapter over the connection and sync services, for the Patients page and its dialogs.

- `connection_changed`: the callback listener finished a consent (connected, denied, refused).
  The service calls `on_change` on the listener's thread; the signal is delivered on the UI thread,
  so the page refreshes without anyone clicking.
- `sync_started` / `sync_finished`: a "Sync now" of one patient's vendor account, which runs on the
  sync service's queue for that connection (never on the UI thread); `syncing` says which are busy.
- While the tunnel is up, new consent and enrolment links use its public https address (Withings
  refuses loopback addresses, and a patient's phone cannot reach 127.0.0.1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gui.bridge import Bridge
from services import config
from services.accounts.actor import Actor
from services.connect.service import ConnectOutcome
from services.reach.tunnel import TunnelStatus
from services.sync.service import SyncRunResult

if TYPE_CHECKING:
    from gui.tunnel_controller import TunnelController
    from services.app import WearSync

log = logging.getLogger(__name__)


class ConnectEvents(QObject):
    connection_changed = Signal(ConnectOutcome)
    sync_started = Signal(str, str)  # patient ID, vendor
    sync_finished = Signal(str, str, object)  # patient ID, vendor, SyncRunResult or the Exception
    _from_listener = Signal(ConnectOutcome)  # listener thread -> UI thread
    _first = Signal(str, str, object)  # a first download's start (None) or end (result), any thread -> UI

    def __init__(self, app: WearSync, bridge: Bridge, tunnel: TunnelController | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.bridge = bridge
        self.syncing: set[tuple[str, str]] = set()
        self._from_listener.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        hooks = app.connections.on_change
        emit = self._from_listener.emit

        def hook(outcome: ConnectOutcome) -> None:
            emit(outcome)

        hooks.append(hook)
        # a closed window must not be called from the listener thread any more
        def unhook(*_args: object) -> None:
            if hook in hooks:
                hooks.remove(hook)

        self.destroyed.connect(unhook)
        self._hook = hook
        # the first download after a consent (started by the services): shown like a "Sync now"
        self._first.connect(self._first_download, Qt.ConnectionType.QueuedConnection)
        first_hooks: list[Any] = getattr(app.sync, "on_first_download", [])  # a stand-in sync may have none
        first_emit = self._first.emit

        def first_hook(code: str, vendor: str, result: object) -> None:
            first_emit(code, vendor, result)

        first_hooks.append(first_hook)

        def first_unhook(*_args: object) -> None:
            if first_hook in first_hooks:
                first_hooks.remove(first_hook)

        self.destroyed.connect(first_unhook)
        self._first_hook = first_hook
        if tunnel is not None:
            self._wire_tunnel(tunnel)

    def detach(self) -> None:
        if self._hook in self.app.connections.on_change:
            self.app.connections.on_change.remove(self._hook)
        first_hooks = getattr(self.app.sync, "on_first_download", [])
        if self._first_hook in first_hooks:
            first_hooks.remove(self._first_hook)

    @Slot(str, str, object)
    def _first_download(self, patient_code: str, vendor: str, result: object) -> None:
        key = (patient_code, vendor)
        if result is None:
            self.syncing.add(key)
            self.sync_started.emit(patient_code, vendor)
            return
        self.syncing.discard(key)
        self.sync_finished.emit(patient_code, vendor, result)

    @Slot(ConnectOutcome)
    def _deliver(self, outcome: ConnectOutcome) -> None:
        self.connection_changed.emit(outcome)

    # -- the tunnel's public address for new links -------------------------------------------
    def _wire_tunnel(self, tunnel: TunnelController) -> None:
        environ = self.app.environ
        public: list[str | None] = [None]  # read by worker threads; a single reference swap

        def public_url() -> str:
            return public[0] or config.public_base_url(environ)

        def on_status(status: TunnelStatus) -> None:
            up = status.state in ("up", "reconnecting") and bool(status.callback_url)
            public[0] = status.callback_url if up and not environ.get("WEARSYNC_PUBLIC_URL") else None

        self.app.connections.public_url = public_url
        tunnel.status_changed.connect(on_status)
        on_status(tunnel.status)

    # -- "Sync now" ---------------------------------------------------------------------------
    def sync_now(self, patient_code: str, vendor: str, actor: Actor,
                 on_done: Callable[[Any], object] | None = None) -> bool:
        """Download one patient's vendor account now (through its queue). False when already busy."""
        actor.require("sync.run")
        key = (patient_code, vendor)
        if key in self.syncing:
            return False
        self.syncing.add(key)
        self.sync_started.emit(patient_code, vendor)

        def finished(result: object) -> None:
            self.syncing.discard(key)
            self.sync_finished.emit(patient_code, vendor, result)
            if on_done is not None:
                on_done(result)

        self.bridge.submit(self.app.sync.sync_all, patient=patient_code, vendor=vendor, trigger="manual",
                           actor=actor, on_result=finished, on_error=finished, context=self)
        return True


def sync_words(result: SyncRunResult | BaseException, patient_code: str, vendor_label: str) -> tuple[bool, str]:
    """(ok, one sentence for the coordinator) about a finished "Sync now"."""
    if isinstance(result, BaseException):
        return False, f"{patient_code} {vendor_label}: the download did not run. {getattr(result, 'message', result)}"
    parts = []
    ok = result.ok
    for r in result.results:
        if r.status == "needs_reconsent":
            parts.append(f"{patient_code} {vendor_label} needs re-consent: ask the patient to connect again.")
            continue
        span = f" for {r.start:%d %b}–{r.end:%d %b}" if r.start and r.end else ""
        text = f"Downloaded {patient_code} {vendor_label}{span}: {r.rows_written:,} rows."
        if r.scopes_missing:
            text += f" Not shared by the patient: {', '.join(r.scopes_missing)}."
        if r.errors:
            text += " Problems: " + " ".join(r.errors)
        parts.append(text)
    return ok, " ".join(parts) or f"{patient_code} {vendor_label}: nothing to download."
