"""The OAuth callback listener: a small HTTP server thread bound to 127.0.0.1:WEARSYNC_CALLBACK_PORT.

- `/oauth2_callback?state=...&code=...` (or `error=...`): handed to the connection service, which
  checks the state, exchanges the code at once (Withings' code lives 30 s) and stores the
  connection; the patient sees a friendly page in plain words.
- `/enrol/<token>`: a remote enrolment link; redirects to the vendor's consent page with a fresh state.
The tunnel (ngrok) forwards the public URL here, so these pages are what a patient sees on a phone.
"""

from __future__ import annotations

import errno
import html
import logging
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from services.errors import InvalidInput, WearSyncError

log = logging.getLogger(__name__)

PAGES = Path(__file__).resolve().parents[2] / "resources" / "callback"
CALLBACK_PATH = "/oauth2_callback"
ENROL_PREFIX = "/enrol/"


@dataclass(frozen=True)
class Page:
    ok: bool
    title: str
    message: str


class CallbackTarget(Protocol):
    def handle_callback(self, params: dict[str, str]) -> Page: ...

    def open_enrolment(self, token: str) -> str: ...


class PortInUse(InvalidInput):
    title = "The callback port is busy"


def render(page: Page) -> bytes:
    name = "success.html" if page.ok else "failure.html"
    template = Template((PAGES / name).read_text(encoding="utf-8"))
    return template.safe_substitute(title=html.escape(page.title, quote=False),
                                      message=html.escape(page.message, quote=False)).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for in-flight pages, so a patient's page is never cut off
    block_on_close = True
    # SO_REUSEADDR lets us rebind a port in TIME_WAIT after a restart; on Windows it would let two
    # listeners share a port, and a second WearSync must fail loudly instead
    allow_reuse_address = sys.platform != "win32"

    def __init__(self, addr: tuple[str, int], target: CallbackTarget) -> None:
        self.target = target
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("callback listener: a request failed")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 30
    server_version = "WearSync"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return  # request lines carry codes and states: never log them

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == CALLBACK_PATH:
            params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items() if v}
            try:
                page = self.server.target.handle_callback(params)
            except Exception:
                log.exception("callback handling failed")
                page = Page(False, "Something went wrong", "WearSync could not finish the connection. "
                                                            "Please ask the clinic to send a new link.")
            self._send(200 if page.ok else 400, render(page))
            return
        if parts.path.startswith(ENROL_PREFIX):
            token = parts.path[len(ENROL_PREFIX):].strip("/")
            try:
                location = self.server.target.open_enrolment(token)
            except WearSyncError as exc:
                self._send(400, render(Page(False, exc.title, exc.message)))
                return
            except Exception:
                log.exception("enrolment link handling failed")
                self._send(500, render(Page(False, "Something went wrong", "Please try the link again later.")))
                return
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path in ("/", ""):
            self._send(200, render(Page(True, "WearSync", "This is the WearSync sign-in helper.")))
            return
        self._send(404, render(Page(False, "Page not found", "This address is not a WearSync page.")))

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")  # the URL holds the one-time code
        self.end_headers()
        self.wfile.write(body)


class CallbackServer:
    def __init__(self, target: CallbackTarget, port: int, host: str = "127.0.0.1") -> None:
        self.target = target
        self.host = host
        self.port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> CallbackServer:
        if self._httpd is not None:
            return self
        try:
            self._httpd = _Server((self.host, self.port), self.target)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1)):
                raise PortInUse(
                    f"Port {self.port} on this computer is already in use (another WearSync or another "
                    "program), so the sign-in answer cannot be received. Close that program, or choose "
                    "another port with the environment variable WEARSYNC_CALLBACK_PORT (and use the same "
                    "port in the vendor's redirect address and the tunnel)."
                ) from None
            raise
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="wearsync-callback", daemon=True)
        self._thread.start()
        log.info("callback listener on %s", self.url)
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()  # waits for pages being sent
        if thread is not None:
            thread.join(timeout=5)
