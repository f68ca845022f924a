"""The sandbox HTTP server: one local ThreadingHTTPServer serving all three vendors under
``/fitbit``, ``/withings`` and ``/polar``, plus the Python API tests and sandbox mode drive it with.

Its time is a `Clock` (services/clock.py): sandbox mode passes the app's, so "today", registration
times and token lifetimes agree with the app; alone it reads one from the environment (the test
offset included). `today=` fixes the day its data ends on; `advance_time()` ages codes and tokens."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from services.clock import Clock

from . import google, polar, withings
from .core import (
    GOOGLE_HEALTH_SCOPES,
    Call,
    Client,
    Fault,
    Request,
    Response,
    SandboxError,
)
from .model import VENDORS, SandboxUser, local_epoch, zone
from .oauth import F_DECISION, F_SCOPE, F_USER, AuthState, normalize_google_scope

log = logging.getLogger(__name__)

FAULTS = ("429", "500", "503", "timeout", "reset", "401_expired", "malformed")
PATHS = {
    "fitbit": {"authorize": "/o/oauth2/v2/auth", "token": "/token", "revoke": "/revoke"},
    "withings": {"authorize": "/oauth2_user/authorize2", "token": "/v2/oauth2", "revoke": "/v2/oauth2"},
    "polar": {"authorize": "/oauth2/authorization", "token": "/v2/oauth2/token", "revoke": "/v3/users"},
}
DEVICES = {"fitbit": "Charge 6", "withings": "Sleep Analyzer", "polar": "Polar H10"}

# (vendor, username, timezone, options) of the accounts that exist by default
DEMO_USERS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("fitbit", "anna", "Europe/Berlin", {"display_name": "Anna Demo"}),
    ("fitbit", "ben", "America/New_York", {"display_name": "Ben Demo", "device": "Pixel Watch 3"}),
    (
        "fitbit",
        "chiara",
        "Europe/Rome",
        {"display_name": "Chiara Demo", "stale_days": 5, "battery_level": 12},
    ),
    ("fitbit", "dev", "Asia/Kolkata", {"display_name": "Dev Demo", "device": "Inspire 3"}),
    ("withings", "emil", "Europe/Berlin", {"display_name": "Emil Demo"}),
    ("withings", "fatma", "Europe/London", {"display_name": "Fatma Demo"}),
    ("polar", "greta", "Europe/Berlin", {"display_name": "Greta Demo"}),
    ("polar", "hugo", "Europe/Helsinki", {"display_name": "Hugo Demo"}),
)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: no traceback on stderr
        log.debug("sandbox: error while handling a request", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"
    server_version = "WearSyncSandbox/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET
    do_PATCH = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        sandbox = self.server.sandbox
        if sandbox.latency_s > 0:  # a vendor's round trip over the internet (benchmarks)
            time.sleep(sandbox.latency_s)
        cpu0 = time.thread_time()
        outcome = sandbox._serve(self.command, self.path, dict(self.headers.items()), raw)
        with sandbox._lock:  # the sandbox's own CPU, so a benchmark in the same process can subtract it
            sandbox.served_cpu_s += time.thread_time() - cpu0
        if outcome is None:
            self._reset()
            return
        try:
            self.send_response(outcome.status)
            self.send_header("Content-Type", outcome.content_type)
            self.send_header("Content-Length", str(len(outcome.body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in outcome.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(outcome.body)
        except OSError:
            pass  # the client gave up (e.g. after a "timeout" fault)

    def _reset(self) -> None:
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True


class SandboxServer:
    """Local stand-in for the Google Health API (fitbit), Withings and Polar AccessLink."""

    def __init__(
        self,
        seed: int = 1,
        today: date | None = None,
        port: int = 0,
        *,
        demo_users: bool = True,
        strict_withings_redirect: bool = False,
        withings_page_size: int = 10,
        google_quota_per_minute: int = 300,
        withings_quota_per_minute: int = 120,
        polar_base_limits: tuple[int, int] = (500, 5000),
        clock: Clock | None = None,
        latency_s: float = 0.0,
    ) -> None:
        self.seed = seed
        # added to every request before it is answered (each request in its own thread), so a
        # benchmark sees a vendor's round trip; may be changed while the server runs
        self.latency_s = latency_s
        self.served_cpu_s = 0.0  # CPU time the handlers spent building answers (not sending them)
        # the app's clock (sandbox mode passes it); alone, a clock honouring the test offset
        self.clock = clock or Clock.from_environ(os.environ)
        self._fixed_today = today is not None
        self.today = today or self.clock.today()
        self.host = "127.0.0.1"
        self.port = port
        self.withings_page_size = withings_page_size
        self.google_quota_per_minute = google_quota_per_minute
        self.withings_quota_per_minute = withings_quota_per_minute
        self.polar_base_limits = polar_base_limits
        self._clock_offset = 0.0
        self._lock = threading.RLock()
        self._users: dict[tuple[str, str], SandboxUser] = {}
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._counters: dict[tuple[str, str, int], int] = {}
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.auth = AuthState(self.now, self.user, self.usernames, strict_withings_redirect)
        if demo_users:
            for vendor, name, tz, opts in DEMO_USERS:
                opts = dict(opts)
                stale = opts.pop("stale_days", 0)
                u = self.add_user(vendor, name, tz, **opts)
                if stale:
                    u.last_sync = u.last_sync - timedelta(days=stale)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="wearsync-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise SandboxError("the sandbox server is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ endpoints and environment
    def endpoints(self, vendor: str) -> dict[str, str]:
        self._vendor(vendor)
        root = f"{self.base_url}/{vendor}"
        return {
            "authorize_url": root + PATHS[vendor]["authorize"],
            "token_url": root + PATHS[vendor]["token"],
            "api_url": root,
            "revoke_url": root + PATHS[vendor]["revoke"],
        }

    def environ(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for vendor in VENDORS:
            ep = self.endpoints(vendor)
            for key in ("authorize_url", "token_url", "api_url", "revoke_url"):
                out[f"WEARSYNC_{vendor.upper()}_{key.upper()}"] = ep[key]
        return out

    def credentials_environ(self) -> dict[str, str]:
        """``FITBIT_CLIENT_ID`` etc. of the built-in (invented) sandbox clients."""
        out = {}
        for vendor in VENDORS:
            c = self.auth.default_client(vendor)
            out[f"{vendor.upper()}_CLIENT_ID"] = c.client_id
            out[f"{vendor.upper()}_CLIENT_SECRET"] = c.client_secret
        return out

    def client(self, vendor: str) -> tuple[str, str]:
        c = self.auth.default_client(self._vendor(vendor))
        return c.client_id, c.client_secret

    def add_client(
        self, vendor: str, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None
    ) -> Client:
        return self.auth.add_client(self._vendor(vendor), client_id, client_secret, redirect_uris)

    # ------------------------------------------------------------------ clock
    def now(self) -> float:
        """Sandbox wall clock (epoch seconds) used for code/token lifetimes and quotas: the clock's
        time, moved by `advance_time()`."""
        return self.clock.timestamp() + self._clock_offset

    def now_utc(self) -> datetime:
        """`now()` as an aware UTC datetime (registration times, error stamps)."""
        return datetime.fromtimestamp(self.now(), UTC)

    def advance_time(self, seconds: float) -> None:
        with self._lock:
            self._clock_offset += seconds

    # ------------------------------------------------------------------ users
    def add_user(
        self,
        vendor: str,
        username: str,
        timezone: str = "Europe/Berlin",
        days: int = 30,
        *,
        wear_gaps: bool = True,
        last_sync: datetime | None = None,
        consents_accepted: bool = True,
        device: str | None = None,
        display_name: str | None = None,
        battery_level: int = 80,
    ) -> SandboxUser:
        self._vendor(vendor)
        zone(timezone)  # raises for an unknown zone
        if days < 0:
            raise ValueError("days must be >= 0")
        if last_sync is None:
            last_sync = datetime.fromtimestamp(local_epoch(timezone, self.today, 7 * 60 + 30), UTC)
            if not self._fixed_today:
                last_sync = min(last_sync, self.now_utc())
        user = SandboxUser(
            vendor,
            username,
            timezone,
            days,
            self.today,
            self.seed,
            display_name or username.title(),
            device or DEVICES[vendor],
            wear_gaps=wear_gaps,
            consents_accepted=consents_accepted,
            last_sync=_aware(last_sync),
            battery_level=battery_level,
        )
        with self._lock:
            if (vendor, username) in self._users:
                raise ValueError(f"{vendor} sandbox account {username!r} already exists")
            self._users[(vendor, username)] = user
        return user

    def user(self, vendor: str, username: str) -> SandboxUser | None:
        return self._users.get((vendor, username))

    def usernames(self, vendor: str) -> list[str]:
        with self._lock:
            return [name for (v, name) in self._users if v == vendor]

    def users(self, vendor: str) -> list[SandboxUser]:
        with self._lock:
            return [u for (v, _), u in self._users.items() if v == vendor]

    def _need_user(self, vendor: str, username: str) -> SandboxUser:
        u = self.user(self._vendor(vendor), username)
        if u is None:
            raise SandboxError(f"no {vendor} sandbox account named {username!r}")
        return u

    def set_device_sync(self, vendor: str, username: str, last_sync_time: datetime) -> None:
        self._need_user(vendor, username).last_sync = _aware(last_sync_time)

    def expire_access_tokens(self, vendor: str, username: str | None = None) -> None:
        self.auth.expire_access(self._vendor(vendor), username)

    def revoke(self, vendor: str, username: str) -> None:
        """The patient withdraws consent at the vendor: refresh -> invalid_grant, data calls -> 401."""
        user = self._need_user(vendor, username)
        self.auth.revoke_user(vendor, username)
        if vendor == "polar":
            user.registered = False

    # ------------------------------------------------------------------ calls and faults
    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def inject(
        self, vendor: str, fault: str, times: int = 1, *, path: str | None = None, seconds: float = 3.0
    ) -> None:
        """The next ``times`` matching calls fail with ``fault``. Without ``path`` only data (API) calls
        match; with ``path`` any call whose vendor-relative path contains it (token endpoint too)."""
        self._vendor(vendor)
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.append(Fault(vendor, fault, times, path, seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, vendor: str, kind: str, path: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.vendor != vendor or f.remaining <= 0:
                    continue
                if (f.path is not None and f.path in path) or (f.path is None and kind == "api"):
                    f.remaining -= 1
                    if f.remaining <= 0:
                        self._faults.remove(f)
                    return f
        return None

    # ------------------------------------------------------------------ quotas
    def _count(self, kind: str, key: str, window: int) -> tuple[int, float]:
        now = self.now()
        idx = int(now // window)
        with self._lock:
            n = self._counters.get((kind, key, idx), 0) + 1
            self._counters[(kind, key, idx)] = n
            if len(self._counters) > 10_000:
                self._counters = {k: v for k, v in self._counters.items() if k[2] >= idx - 1}
        return n, (idx + 1) * window - now

    def take_google_quota(self, username: str) -> bool:
        return self._count("google", username, 60)[0] <= self.google_quota_per_minute

    def take_withings_quota(self, username: str) -> bool:
        return self._count("withings", "app", 60)[0] <= self.withings_quota_per_minute

    def _polar_limits(self) -> tuple[int, int]:
        n = sum(1 for u in self.users("polar") if u.registered)
        return self.polar_base_limits[0] + 20 * n, self.polar_base_limits[1] + 100 * n

    def take_polar_quota(self) -> str | None:
        short, _ = self._count("polar15", "app", 900)
        long_, _ = self._count("polar24", "app", 86400)
        lim = self._polar_limits()
        return None if short <= lim[0] and long_ <= lim[1] else "exceeded"

    def polar_rate_headers(self, exhausted: bool = False) -> dict[str, str]:
        now = self.now()
        lim = self._polar_limits()
        with self._lock:
            short = self._counters.get(("polar15", "app", int(now // 900)), 0)
            long_ = self._counters.get(("polar24", "app", int(now // 86400)), 0)
        if exhausted:
            short = max(short, lim[0])
        return {
            "RateLimit-Usage": f"{short}, {long_}",
            "RateLimit-Limit": f"{lim[0]}, {lim[1]}",
            "RateLimit-Reset": f"{int(900 - now % 900)}, {int(86400 - now % 86400)}",
        }

    # ------------------------------------------------------------------ consent driver
    def approve(
        self, authorize_url: str, username: str, decision: str = "allow", scopes: Iterable[str] | None = None
    ) -> str:
        """Do what a browser user does on the consent page; return the redirect URL without following it."""
        if decision not in ("allow", "deny"):
            raise ValueError("decision must be 'allow' or 'deny'")
        parts = urlsplit(authorize_url)
        if (parts.hostname, parts.port) != (self.host, self.port):
            raise SandboxError(f"{authorize_url} does not point at this sandbox ({self.base_url})")
        status, location, body = _http(self.host, self.port, "GET", parts.path + "?" + parts.query, None)
        if status in (301, 302, 303):
            return location
        if status != 200:
            raise SandboxError(f"consent page refused the request ({status}): {_text(body)}")
        form = [(k, v) for k, vs in parse_qs(parts.query, keep_blank_values=True).items() for v in vs]
        form += [(F_USER, username), (F_DECISION, decision)]
        vendor = parts.path.strip("/").split("/", 1)[0]
        if vendor == "fitbit":
            requested = [normalize_google_scope(s) for s in dict(form).get("scope", "").split()]
            chosen = requested if scopes is None else [normalize_google_scope(s) for s in scopes]
            form += [(F_SCOPE, s) for s in chosen if s in GOOGLE_HEALTH_SCOPES]
        status, location, body = _http(self.host, self.port, "POST", parts.path, urlencode(form).encode())
        if status not in (301, 302, 303):
            raise SandboxError(f"consent submission failed ({status}): {_text(body)}")
        return location

    # ------------------------------------------------------------------ request handling
    def _vendor(self, vendor: str) -> str:
        if vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}; one of {', '.join(VENDORS)}")
        return vendor

    def _serve(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Response | None:
        parts = urlsplit(target)
        lower = {k.lower(): v for k, v in headers.items()}
        ctype = lower.get("content-type", "")
        form: dict[str, list[str]] = {}
        body_json: Any = None
        if raw and "json" in ctype:
            try:
                body_json = json.loads(raw)
            except ValueError:
                body_json = None
        elif raw:
            form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        segs = parts.path.split("/", 2)
        vendor = segs[1] if len(segs) > 1 else ""
        if vendor not in VENDORS:
            if parts.path in ("", "/"):
                return Response.html(self._index_html())
            return Response.json_body({"error": "not found"}, 404)
        path = "/" + (segs[2] if len(segs) > 2 else "")
        req = Request(
            vendor, method, path, parse_qs(parts.query, keep_blank_values=True), form, body_json, lower
        )
        kind = self._kind(req)
        fault = self._take_fault(vendor, kind, path)
        resp = self._route(req, kind) if fault is None else self._apply_fault(fault, req, kind)
        params = {
            k: ("***" if k in ("client_secret", "code_verifier") else v) for k, v in req.params().items()
        }
        with self._lock:
            self._calls.append(
                Call(
                    vendor,
                    method,
                    path,
                    params,
                    kind,
                    resp.status if resp else 0,
                    resp.username if resp else None,
                    fault.fault if fault else None,
                )
            )
        return resp

    @staticmethod
    def _kind(req: Request) -> str:
        p = PATHS[req.vendor]
        path = req.path
        if path == p["authorize"]:
            return "authorize"
        if req.vendor == "withings" and path == p["token"]:
            return "revoke" if req.param("action") == "revoke" else "token"
        if path == p["token"]:
            return "token"
        if req.vendor == "fitbit" and path == p["revoke"]:
            return "revoke"
        if req.vendor == "polar" and req.method == "DELETE" and path.startswith("/v3/users/"):
            return "revoke"
        if req.vendor == "fitbit" and (
            path.startswith(("/1/", "/1.1/", "/1.2/")) or path.startswith("/oauth2/")
        ):
            return "legacy"
        return "api"

    def _route(self, req: Request, kind: str) -> Response:
        v = req.vendor
        if kind == "legacy":
            return google.error(
                410, "GONE", "The Fitbit Web API was shut down on 2026-11-02; use the Google Health API v4"
            )
        if kind == "authorize":
            if req.method not in ("GET", "POST"):
                return Response.html("method not allowed", 405)
            return self.auth.authorize(req)
        if kind in ("token", "revoke") and v == "withings":
            return self.auth.token_withings(req)
        if kind == "token":
            if req.method != "POST":
                return Response.json_body(
                    {"error": "invalid_request", "error_description": "POST required"}, 405
                )
            return self.auth.token_google(req) if v == "fitbit" else self.auth.token_polar(req)
        if kind == "revoke" and v == "fitbit":
            return self.auth.revoke_google(req)
        if v == "fitbit":
            return google.handle_api(self, req)
        if v == "withings":
            if req.path == "/v2/signature":
                return self.auth.signature_withings(req)
            if req.path not in ("/v2/sleep", "/measure", "/v2/user"):
                return withings.envelope(2555, error=f"Unknown service {req.path}")
            return withings.handle_api(self, req)
        return polar.handle_api(self, req)

    def _apply_fault(self, fault: Fault, req: Request, kind: str) -> Response | None:
        v, f = req.vendor, fault.fault
        if f == "reset":
            return None
        if f == "timeout":
            self._stopping.wait(fault.seconds)
            return self._route(req, kind)
        if f == "malformed":
            resp = self._route(req, kind)
            resp.body = resp.body[: max(1, len(resp.body) // 2)] + b"\x00<html>truncated"
            return resp
        if f == "401_expired":
            token = req.bearer() or req.param("access_token")
            with self.auth.lock:
                tok = self.auth.tokens.get(token or "")
                if tok is not None:
                    tok.expires_at = min(tok.expires_at or self.now(), self.now() - 1)
            if v == "fitbit":
                return google.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            if v == "withings":
                return withings.envelope(401, error="invalid_token: The access token provided has expired")
            return polar.error(self, 401, "unauthorized", "Access token expired")
        if f == "429":
            if v == "fitbit":
                return google.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded (injected)")
            if v == "withings":
                return withings.envelope(601, error="Too Many Requests")
            resp = polar.error(self, 429, "too_many_requests", "Rate limit exceeded (injected)")
            resp.headers.update(self.polar_rate_headers(exhausted=True))
            return resp
        status = int(f)
        if v == "fitbit":
            return google.error(
                status, "INTERNAL" if status == 500 else "UNAVAILABLE", "Injected server error"
            )
        if v == "polar":
            return polar.error(self, status, "server_error", "Injected server error")
        return Response.html("<html><body>Injected server error</body></html>", status)

    def _index_html(self) -> str:
        rows = "".join(
            f"<li>{u.vendor}: <b>{u.username}</b> ({u.timezone}, {u.device})</li>"
            for u in sorted(self._users.values(), key=lambda u: (u.vendor, u.username))
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>WearSync sandbox</title></head><body>"
            "<h1>WearSync vendor sandbox</h1><p>Invented accounts and data only.</p>"
            f"<ul>{rows}</ul></body></html>"
        )


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")[:300]


def _http(host: str, port: int, method: str, target: str, body: bytes | None) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location") or "", resp.read()
    finally:
        conn.close()
