"""The OAuth callback listener: a small HTTP server thread bound to 127.0.0.1:WEARSYNC_CALLBACK_PORT.

- `/oauth2_callback?state=...&code=...` (or `error=...`): handed to the connection service, which
  checks the state, exchanges the code at once (Withings' code lives 30 s) and stores the
  connection; the answer is a redirect to `/done/<id>`, the page that says how it went, so a reload
  shows the same page again (post/redirect/get) instead of replaying the one-time answer.
- `/enrol/<token>`: a remote enrolment link's introduction (which clinic, which data, why, how to
  stop); its button, `/enrol/<token>/continue`, redirects to the vendor's consent page with a fresh
  state. Neither uses up the link; only a completed connection does.
- `/`, `/favicon.ico`, `/clinic-logo`: a neutral start page, the icon, the clinic's logo.
The tunnel (ngrok) forwards the public URL here, so these pages are what a patient sees on a phone;
every answer carries the security headers of `patient_pages`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from services.connect import patient_pages
from services.connect.patient_pages import Clinic, Page, PatientPageError
from services.errors import InvalidInput

log = logging.getLogger(__name__)

CALLBACK_PATH = "/oauth2_callback"
ENROL_PREFIX = "/enrol/"
CONTINUE_SUFFIX = "/continue"
RESULT_PREFIX = "/done/"
FAVICON_PATHS = ("/favicon.ico", "/favicon.svg")

__all__ = ["CallbackServer", "CallbackTarget", "Page", "PortInUse", "render"]


class CallbackTarget(Protocol):
    def answer_callback(self, params: dict[str, str]) -> str: ...  # the address of the result page

    def result_page(self, result_id: str) -> Page: ...

    def enrolment_intro(self, token: str) -> Page: ...

    def open_enrolment(self, token: str) -> str: ...  # the vendor's consent address

    def clinic(self) -> Clinic: ...


class PortInUse(InvalidInput):
    title = "The callback port is busy"


def render(page: Page, clinic: Clinic | None = None) -> bytes:
    return patient_pages.render(page, clinic or Clinic())


# A visitor must send its whole request (line and headers) within REQUEST_DEADLINE_S, each read
# within READ_TIMEOUT_S: a client trickling a byte at a time cannot hold a connection (or the
# shutdown) open. Stopping closes connections still sending their request at once and gives pages
# being answered CLOSE_GRACE_S before closing them too.
REQUEST_DEADLINE_S = 10.0
READ_TIMEOUT_S = 10.0
CLOSE_GRACE_S = 3.0


def _hard_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)  # a blocked read returns at once, a write fails


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # stop() itself waits (bounded) for pages being answered
    block_on_close = False
    # SO_REUSEADDR lets us rebind a port in TIME_WAIT after a restart; on Windows it would let two
    # listeners share a port, and a second WearSync must fail loudly instead
    allow_reuse_address = sys.platform != "win32"

    def __init__(self, addr: tuple[str, int], target: CallbackTarget) -> None:
        self.target = target
        self._open: dict[socket.socket, bool] = {}  # open connections -> still reading their request
        self._cut: set[socket.socket] = set()  # closed by us before their request was complete
        self._open_changed = threading.Condition()
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_changed:
            self._open[request] = True
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_changed:
            self._open.pop(request, None)
            self._cut.discard(request)
            self._open_changed.notify_all()
        super().shutdown_request(request)

    def request_read(self, request: socket.socket) -> bool:
        """Mark the request as read; False when it was cut off first (it must not be answered)."""
        with self._open_changed:
            if request in self._cut:
                return False
            if request in self._open:
                self._open[request] = False
            return True

    def cut(self, request: socket.socket) -> None:
        with self._open_changed:
            if not self._open.get(request, False):
                return  # already being answered: left to the grace period
            self._cut.add(request)
        _hard_close(request)

    def reading(self, request: socket.socket) -> bool:
        with self._open_changed:
            return self._open.get(request, False)

    def close_connections(self, grace: float) -> None:
        """Close connections still sending their request now; wait up to `grace` seconds for pages
        being answered, then close those too."""
        with self._open_changed:
            readers = [c for c, reading in self._open.items() if reading]
        for conn in readers:
            self.cut(conn)
        with self._open_changed:
            self._open_changed.wait_for(lambda: not self._open, timeout=grace)
            rest = list(self._open)
        for conn in rest:
            _hard_close(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # one line, never a traceback: a visitor who hangs up early must not fill (or flush) the log
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            log.info("callback listener: a visitor's connection ended early (%s)", type(exc).__name__)
        else:
            log.warning("callback listener: a request failed (%s)", type(exc).__name__)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = READ_TIMEOUT_S
    server_version = "WearSync"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(READ_TIMEOUT_S)
        self._deadline = threading.Timer(REQUEST_DEADLINE_S, self._too_slow)
        self._deadline.daemon = True
        self._deadline.start()

    def _too_slow(self) -> None:
        if self.server.reading(self.connection):
            log.info("callback listener: a visitor took too long to send its request; connection closed")
            self.server.cut(self.connection)

    def parse_request(self) -> bool:
        ok = super().parse_request()  # the request line and headers are in
        self._deadline.cancel()
        if not self.server.request_read(self.connection):  # cut off meanwhile: a half request is not answered
            self.close_connection = True
            return False
        return ok

    def finish(self) -> None:
        self._deadline.cancel()
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return  # request lines carry codes and states: never log them

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in FAVICON_PATHS:
            self._send(200, patient_pages.favicon(), "image/svg+xml")
            return
        target = self.server.target
        try:
            clinic = target.clinic()
        except Exception:
            log.warning("callback listener: the clinic's settings could not be read")
            clinic = Clinic()
        if path == patient_pages.LOGO_PATH:
            logo = clinic.logo_file()
            if logo is None:
                self._page(patient_pages.simple(clinic, "notfound"), clinic)
            else:
                self._send(200, *logo)
            return
        try:
            if path == CALLBACK_PATH:
                params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()
                          if v}
                self._redirect(target.answer_callback(params))
            elif path.startswith(RESULT_PREFIX):
                self._page(target.result_page(path[len(RESULT_PREFIX):]), clinic)
            elif path.startswith(ENROL_PREFIX) and path.endswith(CONTINUE_SUFFIX):
                self._redirect(target.open_enrolment(path[len(ENROL_PREFIX):-len(CONTINUE_SUFFIX)].strip("/")))
            elif path.startswith(ENROL_PREFIX):
                self._page(target.enrolment_intro(path[len(ENROL_PREFIX):].strip("/")), clinic)
            elif path in ("/", ""):
                self._page(patient_pages.simple(clinic, "root"), clinic)
            else:
                self._page(patient_pages.simple(clinic, "notfound"), clinic)
        except PatientPageError as exc:
            self._page(exc.page, clinic)
        except (ConnectionError, TimeoutError) as exc:  # the visitor left while the answer was sent
            log.info("callback listener: a visitor's connection ended early (%s)", type(exc).__name__)
            self.close_connection = True
        except Exception:
            log.exception("callback listener: a patient page failed")
            self._page(patient_pages.simple(clinic, "error"), clinic)

    def _page(self, page: Page, clinic: Clinic) -> None:
        self._send(page.http_status, patient_pages.render(page, clinic), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self.send_response(303)  # the next request is a GET, and a reload repeats that GET, not this one
        self.send_header("Location", location)
        self._security_headers()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._security_headers()
        self.end_headers()
        self.wfile.write(body)

    def _security_headers(self) -> None:
        for name, value in patient_pages.SECURITY_HEADERS:
            self.send_header(name, value)


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
            httpd.close_connections(CLOSE_GRACE_S)  # pages being sent get a moment; nothing holds it open
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
