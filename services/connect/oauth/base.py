"""The one OAuth 2.0 authorization-code implementation every vendor builds on.

A vendor subclass (in services/vendors/<vendor>.py) overrides only its quirks: extra authorize
parameters, how the client authenticates at the token endpoint, the shape of the token answer and
how a revocation is done. Tokens never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from services.clock import Clock
from services.errors import WearSyncError

log = logging.getLogger(__name__)


class OAuthError(WearSyncError):
    """The vendor refused a sign-in step (bad code, bad client, unreachable)."""

    title = "Connection failed"


class ConsentRevoked(OAuthError):
    """The grant is gone (invalid_grant, revoked, expired for good): the patient must consent again."""

    title = "Patient must reconnect"


@dataclass(frozen=True)
class Endpoints:
    authorize_url: str
    token_url: str
    api_url: str
    revoke_url: str


@dataclass
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: dt.datetime | None = None  # naive UTC
    scopes: tuple[str, ...] = ()
    user_id: str | None = None
    token_type: str = "Bearer"

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "scopes": list(self.scopes),
            "user_id": self.user_id,
            "token_type": self.token_type,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TokenSet:
        exp = d.get("expires_at")
        return cls(
            access_token=str(d["access_token"]),
            refresh_token=d.get("refresh_token"),
            expires_at=dt.datetime.fromisoformat(exp) if exp else None,
            scopes=tuple(d.get("scopes") or ()),
            user_id=d.get("user_id"),
            token_type=str(d.get("token_type") or "Bearer"),
        )


def pkce_verifier() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, inside RFC 7636's 43..128


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def expires_at(expires_in: Any, now: dt.datetime) -> dt.datetime | None:
    """When a token given `expires_in` seconds at `now` (naive UTC, the app clock's) expires."""
    try:
        seconds = int(expires_in)
    except (TypeError, ValueError):
        return None
    return now + dt.timedelta(seconds=seconds)


class OAuth2Implementation:
    """Authorization-code flow with optional PKCE and refresh; subclasses add a vendor's quirks."""

    vendor = ""
    label = ""
    scopes: tuple[str, ...] = ()
    scope_separator = " "
    uses_pkce = False
    supports_refresh = True

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        endpoints: Endpoints,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.client_id = client_id
        self.clock = clock or Clock()  # the vendor registry passes the app's clock
        self._client_secret = client_secret
        self.endpoints = endpoints
        self.session = session or requests.Session()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.vendor}>"

    # ------------------------------------------------------------------ authorize
    def extra_authorize_params(self) -> dict[str, str]:
        return {}

    def authorize_url(self, state: str, redirect_uri: str, verifier: str | None = None) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scope_separator.join(self.scopes),
            "state": state,
        }
        if self.uses_pkce and verifier:
            params["code_challenge"] = pkce_challenge(verifier)
            params["code_challenge_method"] = "S256"
        params.update(self.extra_authorize_params())
        sep = "&" if "?" in self.endpoints.authorize_url else "?"
        return self.endpoints.authorize_url + sep + urlencode(params)

    # ------------------------------------------------------------------ token endpoint
    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None = None) -> TokenSet:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.uses_pkce and verifier:
            data["code_verifier"] = verifier
        body = self._token_call(data, refreshing=False)
        return self.parse_token(body, None)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        if not self.supports_refresh or not tokens.refresh_token:
            raise ConsentRevoked(
                f"The {self.label} connection has expired and cannot be renewed automatically. "
                "Ask the patient to connect again."
            )
        body = self._token_call({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
                                refreshing=True)
        return self.parse_token(body, tokens)

    def revoke(self, tokens: TokenSet) -> None:
        """Withdraw the grant at the vendor; subclasses implement what the vendor offers."""

    def parse_token(self, body: Mapping[str, Any], previous: TokenSet | None) -> TokenSet:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuthError(f"{self.label} answered without an access token. Try connecting again.")
        raw_scope = body.get("scope")
        if isinstance(raw_scope, str) and raw_scope.strip():
            scopes = tuple(s for s in raw_scope.replace(",", " ").split() if s)
        else:
            scopes = previous.scopes if previous else self.scopes
        return TokenSet(
            access_token=access,
            # vendors that do not rotate refresh tokens leave it out of a refresh answer
            refresh_token=body.get("refresh_token") or (previous.refresh_token if previous else None),
            expires_at=expires_at(body.get("expires_in"), self.clock.utcnow()),
            scopes=scopes,
            user_id=_str_or_none(body.get("user_id")) or (previous.user_id if previous else None),
            token_type=str(body.get("token_type") or "Bearer"),
        )

    def client_auth(self, data: dict[str, str]) -> tuple[dict[str, str], tuple[str, str] | None]:
        """Where the client credentials go: the form body by default (Polar: HTTP Basic)."""
        return {**data, "client_id": self.client_id, "client_secret": self._client_secret}, None

    def _post_token(self, data: dict[str, str]) -> requests.Response:
        form, basic = self.client_auth(data)
        try:
            return self.session.post(self.endpoints.token_url, data=form, auth=basic, timeout=self.timeout,
                                     headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise OAuthError(
                f"{self.label} could not be reached ({type(exc).__name__}). Check the internet connection "
                "and try again."
            ) from None

    def _token_call(self, data: dict[str, str], refreshing: bool) -> dict[str, Any]:
        resp = self._post_token(data)
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 500 or not isinstance(body, dict):
            raise OAuthError(f"{self.label} had a problem (HTTP {resp.status_code}). Try again in a few minutes.")
        if resp.status_code >= 400 or "error" in body:
            return self.token_error(str(body.get("error") or resp.status_code), refreshing)
        return body

    def token_error(self, error: str, refreshing: bool) -> dict[str, Any]:
        log.warning("%s token endpoint refused the request: %s", self.vendor, error)
        if refreshing and error in ("invalid_grant", "unauthorized_client", "invalid_token", "401"):
            raise ConsentRevoked(
                f"{self.label} no longer accepts this connection (the patient may have withdrawn consent "
                "or the grant expired). Ask the patient to connect again."
            )
        if error == "invalid_client":
            raise OAuthError(
                f"{self.label} does not recognise WearSync's client ID or secret. Check them in "
                "Settings → Secrets."
            )
        if refreshing:
            raise OAuthError(f"{self.label} refused to renew the connection ({error}). Try again later.")
        raise OAuthError(
            f"{self.label} refused the sign-in ({error}). The sign-in may have taken too long or been used "
            "already; start the connection again."
        )


def _str_or_none(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)
