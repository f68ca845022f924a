"""Plain types shared by the sandbox's vendor handlers (no HTTP, no threads here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GOOGLE_SCOPE_PREFIX = "https://www.googleapis.com/auth/"
GOOGLE_SCOPES = {
    "activity": GOOGLE_SCOPE_PREFIX + "googlehealth.activity_and_fitness.readonly",
    "metrics": GOOGLE_SCOPE_PREFIX + "googlehealth.health_metrics_and_measurements.readonly",
    "sleep": GOOGLE_SCOPE_PREFIX + "googlehealth.sleep.readonly",
    "settings": GOOGLE_SCOPE_PREFIX + "googlehealth.settings.readonly",
}
GOOGLE_HEALTH_SCOPES = tuple(GOOGLE_SCOPES.values())
GOOGLE_OTHER_SCOPES = ("openid", "email", "profile")
WITHINGS_SCOPES = ("user.info", "user.metrics", "user.activity", "user.sleepevents")
POLAR_SCOPES = ("accesslink.read_all",)


class SandboxError(Exception):
    """Misuse of the sandbox's Python API (unknown user, consent page refused, ...)."""


@dataclass
class Request:
    vendor: str
    method: str
    path: str  # vendor-relative path as documented, e.g. "/v4/users/me/identity"
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    json: Any
    headers: dict[str, str]  # lower-case names

    def param(self, name: str, default: str | None = None) -> str | None:
        """Single value from the form body or the query string (body wins)."""
        for source in (self.form, self.query):
            values = source.get(name)
            if values:
                return values[0]
        return default

    def params(self) -> dict[str, str]:
        out = {k: v[0] for k, v in self.query.items() if v}
        out.update({k: v[0] for k, v in self.form.items() if v})
        if isinstance(self.json, dict):
            out.update({str(k): str(v) for k, v in self.json.items()})
        return out

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    username: str | None = None  # whose data/token this call touched (for Call records)

    @classmethod
    def json_body(cls, obj: Any, status: int = 200, **headers: str) -> Response:
        return cls(status, json.dumps(obj, separators=(",", ":")).encode(), headers=dict(headers))

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", "text/plain", {"Location": location})

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status, b"", "text/plain")


@dataclass(frozen=True)
class Call:
    """One request the sandbox received. ``path`` is vendor-relative (the documented path)."""

    vendor: str
    method: str
    path: str
    params: dict[str, str]
    kind: str = "api"  # authorize | token | revoke | api | legacy | other
    status: int = 0
    username: str | None = None
    fault: str | None = None


@dataclass
class Fault:
    vendor: str
    fault: str
    remaining: int
    path: str | None = None
    seconds: float = 3.0


@dataclass
class Client:
    vendor: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] | None = None  # None: any loopback/https URI is accepted


@dataclass
class AuthCode:
    code: str
    vendor: str
    client_id: str
    redirect_uri: str | None
    username: str
    scopes: tuple[str, ...]
    issued_at: float
    challenge: str | None = None
    challenge_method: str | None = None
    offline: bool = False
    prompt_consent: bool = False
    used: bool = False
    issued_tokens: list[str] = field(default_factory=list)


@dataclass
class Token:
    value: str
    kind: str  # access | refresh
    vendor: str
    username: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float | None
    revoked: bool = False
    used: bool = False
    # Withings rotation: the refresh token this access token's pair replaced; it dies when we are used
    replaces_refresh: str | None = None
    superseded_at: float | None = None  # Withings: when a newer pair was issued from this refresh token


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
