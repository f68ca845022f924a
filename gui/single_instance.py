"""One WearSync window per data directory: a second launch asks the first to show its window
and exits. The channel is a QLocalServer named after WEARSYNC_HOME (and the user)."""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

MESSAGE = b"raise\n"


def server_name(home: Path) -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "user"
    digest = hashlib.sha256(f"{user}\0{home.expanduser().resolve()}".encode()).hexdigest()[:16]
    return f"wearsync-{digest}"


class SingleInstance(QObject):
    raise_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server: QLocalServer | None = None

    def notify_running(self, timeout_ms: int = 800) -> bool:
        """True when another instance is listening; it has been told to show its window."""
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(timeout_ms):
            return False
        sock.write(MESSAGE)
        sock.waitForBytesWritten(timeout_ms)
        sock.disconnectFromServer()
        if sock.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            sock.waitForDisconnected(timeout_ms)
        return True

    def listen(self) -> bool:
        # A crashed instance leaves its socket file behind; nobody answered notify_running, so drop it.
        QLocalServer.removeServer(self.name)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        ok = self.server.listen(self.name)
        if not ok:
            log.warning("single-instance channel unavailable: %s", self.server.errorString())
        return bool(ok)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def _accept(self) -> None:
        assert self.server is not None
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            # The whole message is one short line sent at once; wait for it briefly here rather
            # than keeping per-socket state alive across the event loop.
            if sock.bytesAvailable() or sock.waitForReadyRead(500):
                data = bytes(sock.readAll().data())
                if MESSAGE.strip() in data:
                    log.info("another launch asked to show the window")
                    self.raise_requested.emit()
            sock.abort()
            sock.deleteLater()
