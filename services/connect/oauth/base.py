"""OAuth 2.0 for every vendor, done by requests-oauthlib's `OAuth2Session`.

The session builds the consent URL (with PKCE S256 where the vendor uses it), exchanges the code and
refreshes the token. A vendor class (in services/vendors/<vendor>.py) adds only its quirks: extra
consent-URL parameters, and compliance hooks (`session.register_compliance_hook`) that reshape the
vendor's token requests and answers into standard OAuth 2.0 — registered in its `comply()`. After the
hooks, every token answer has the standard fields plus `user_id` when the vendor names the account.

Plain http. oauthlib refuses any endpoint that is not https unless the process-wide variable
OAUTHLIB_INSECURE_TRANSPORT is set; WearSync never sets it. The one legitimate exception is an
endpoint on this computer's loopback address (the sandbox vendors, a local test server): for exactly
that origin, oauthlib is shown `https://127.0.0.1:<port>` and a transport adapter mounted for that
origin alone sends the request over plain http. An http endpoint anywhere else is refused. (The
loopback http redirect URI of a desktop client needs no exception: it is only sent as a parameter,
and the answer's state is checked by services/connect/oauth/states.py, not by oauthlib.)

Tokens never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from services.clock import Clock
from services.errors import WearSyncError

if TYPE_CHECKING:  # requests and oauthlib load with the first OAuth call, not with the errors and tokens
    import requests
    from oauthlib.oauth2 import WebApplicationClient
    from requests.adapters import HTTPAdapter
    from requests_oauthlib import OAuth2Session

log = logging.getLogger(__name__)


# the made-up authorization code `knows_client` exchanges: no vendor ever issued it
CHECK_CODE = "wearsync-client-check-not-a-real-code"


class OAuthError(WearSyncError):
    """The vendor refused a sign-in step (bad code, bad client, unreachable)."""

    title = "Connection failed"


class ClientNotKnown(OAuthError):
    """The vendor does not know WearSync's client ID, or the secret does not match it."""

    title = "Client not known"


class TermsNotAccepted(OAuthError):
    """The account holder must first accept the vendor's own data-sharing terms (e.g. in Polar Flow)."""


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


@dataclass(frozen=True)
class AuthorizeRequest:
    """A consent URL and the PKCE verifier that must accompany its code (None without PKCE)."""

    url: str
    verifier: str | None = field(default=None, repr=False)


def expires_at(expires_in: Any, now: dt.datetime) -> dt.datetime | None:
    """When a token given `expires_in` seconds at `now` (the app's clock) runs out."""
    try:
        seconds = int(expires_in)
    except (TypeError, ValueError):
        return None
    return now + dt.timedelta(seconds=seconds)


# --------------------------------------------------------------------------- loopback http


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_http_origin(url: str) -> str | None:
    """`http://127.0.0.1:8080` for an http URL on a loopback host; None for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not is_loopback(parts.hostname):
        return None
    return f"http://{parts.netloc}"


def _as_https(url: str) -> str:
    """The URL oauthlib is shown: https for a loopback http URL, unchanged otherwise."""
    if loopback_http_origin(url) is None:
        return url
    return urlunsplit(("https", *urlsplit(url)[1:]))


@cache
def _loopback_http() -> type[HTTPAdapter]:
    from requests.adapters import HTTPAdapter

    class _LoopbackHttp(HTTPAdapter):
        """Sends the requests oauthlib saw as `https://<loopback>` over plain http. Mounted only for the
        exact loopback origin of a configured endpoint, so nothing that leaves this computer goes unencrypted."""

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            url = request.url or ""
            if urlsplit(url).scheme == "https" and is_loopback(urlsplit(url).hostname):
                request.url = urlunsplit(("http", *urlsplit(url)[1:]))
            return super().send(request, *args, **kwargs)

    return _LoopbackHttp


# --------------------------------------------------------------------------- the client


class _Refused(Exception):
    """The token endpoint refused with an HTTP 4xx and no OAuth error code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


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
        self._client_secret = client_secret
        self.endpoints = endpoints
        if session is None:
            import requests

            session = requests.Session()
        self.session = session  # revocation calls (not part of OAuth 2.0 proper)
        self.timeout = timeout
        # naive UTC now, for signed calls: the app's clock (the vendor registry passes it)
        self.clock: Callable[[], dt.datetime] = (clock or Clock()).utcnow

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.vendor}>"

    # ------------------------------------------------------------------ what a vendor adds
    def extra_authorize_params(self) -> dict[str, str]:
        """Vendor parameters for the consent URL (requests-oauthlib has no hook for that URL)."""
        return {}

    def comply(self, session: OAuth2Session) -> None:
        """Register the vendor's compliance hooks on a new session."""

    # ------------------------------------------------------------------ sessions
    def oauth_session(self, *, redirect_uri: str | None = None, scope: str | None = None, pkce: bool = False,
                      client: WebApplicationClient | None = None) -> OAuth2Session:
        """A fresh OAuth2Session with the vendor's hooks, for one authorize / exchange / refresh step.

        `scope` is only given for the consent URL: token answers are read without an expected scope, so
        a narrower grant (Google's granular consent) is recorded instead of raising oauthlib's
        "scope has changed" warning; WearSync checks the granted scopes itself.
        """
        from oauthlib.oauth2 import WebApplicationClient
        from requests_oauthlib import OAuth2Session

        session = OAuth2Session(client=client or WebApplicationClient(self.client_id), redirect_uri=redirect_uri,
                                scope=scope, pkce="S256" if pkce else None)
        origin = loopback_http_origin(self.endpoints.token_url)  # the one endpoint the session talks to
        if origin is not None:
            session.mount("https" + origin[4:] + "/", _loopback_http()())
        session.hooks["response"].append(self._readable_answer)
        self.comply(session)
        return session

    def _readable_answer(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Runs before the compliance hooks: a token answer must be a JSON object from a working server."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 500 or not isinstance(body, dict):
            raise OAuthError(f"{self.label} had a problem (HTTP {resp.status_code}). Try again in a few minutes.")
        if resp.status_code >= 400 and "error" not in body:
            raise _Refused(str(resp.status_code))

    # ------------------------------------------------------------------ authorize
    def authorize(self, state: str, redirect_uri: str, verifier: str | None = None) -> AuthorizeRequest:
        """The consent URL for `state`, and the PKCE verifier its code must be exchanged with (`verifier`:
        the one already kept with a pending state that is being reused, else the session makes one)."""
        from oauthlib.oauth2 import InsecureTransportError, WebApplicationClient

        client = WebApplicationClient(self.client_id)  # keeps the PKCE verifier the session makes
        extra = dict(self.extra_authorize_params())
        if self.uses_pkce and verifier:
            extra |= {"code_challenge": client.create_code_challenge(verifier, "S256"),
                      "code_challenge_method": "S256"}
        session = self.oauth_session(redirect_uri=redirect_uri, scope=self.scope_separator.join(self.scopes),
                                     pkce=self.uses_pkce and not verifier, client=client)
        try:
            url, _ = session.authorization_url(_as_https(self.endpoints.authorize_url), state=state, **extra)
        except InsecureTransportError:
            self._insecure(self.endpoints.authorize_url)
        if loopback_http_origin(self.endpoints.authorize_url) is not None:
            url = urlunsplit(("http", *urlsplit(url)[1:]))
        if self.uses_pkce and not verifier:
            verifier = getattr(client, "code_verifier", None)
        return AuthorizeRequest(url, verifier if self.uses_pkce else None)

    # ------------------------------------------------------------------ token endpoint
    def exchange_code(self, code: str, redirect_uri: str, verifier: str | None, *, now: dt.datetime) -> TokenSet:
        """Trade an authorization code for tokens (`now`: the app's clock, for the expiry time)."""
        session = self.oauth_session(redirect_uri=redirect_uri)
        extra: dict[str, str] = {}
        if self.uses_pkce and verifier:
            # the verifier made with the consent URL, kept with the state (the answer may come after a restart)
            extra["code_verifier"] = verifier
        try:
            token = session.fetch_token(_as_https(self.endpoints.token_url), code=code, include_client_id=True,
                                        client_secret=self._client_secret, timeout=self.timeout, **extra)
        except Exception as exc:
            self._failed(exc, refreshing=False)
        return self.parse_token(token, None, now)

    def refresh(self, tokens: TokenSet, *, now: dt.datetime) -> TokenSet:
        if not self.supports_refresh or not tokens.refresh_token:
            raise ConsentRevoked(
                f"The {self.label} connection has expired and cannot be renewed automatically. "
                "Ask the patient to connect again."
            )
        session = self.oauth_session()
        try:
            token = session.refresh_token(_as_https(self.endpoints.token_url), refresh_token=tokens.refresh_token,
                                          timeout=self.timeout, client_id=self.client_id,
                                          client_secret=self._client_secret)
        except Exception as exc:
            self._failed(exc, refreshing=True)
        return self.parse_token(token, tokens, now)

    def revoke(self, tokens: TokenSet) -> None:
        """Withdraw the grant at the vendor; subclasses implement what the vendor offers."""

    def knows_client(self, redirect_uri: str) -> bool:
        """Ask the token endpoint whether it knows this client ID and secret, without a patient: exchange a
        made-up authorization code (through the vendor's hooks, as a real exchange). A known client gets
        "invalid_grant" (only the code is wrong): True. An unknown client ID or a secret that does not match
        gets "invalid_client" or HTTP 401: False. No answer, or any other answer, is an OAuthError — never
        a guess either way."""
        import requests
        from oauthlib.oauth2 import InsecureTransportError, OAuth2Error

        statuses: list[int] = []
        session = self.oauth_session(redirect_uri=redirect_uri)
        session.hooks["response"].insert(0, lambda resp, *_a, **_k: statuses.append(resp.status_code))
        try:
            session.fetch_token(_as_https(self.endpoints.token_url), code=CHECK_CODE, include_client_id=True,
                                client_secret=self._client_secret, timeout=self.timeout)
        except InsecureTransportError:
            self._insecure(self.endpoints.token_url)
        except requests.RequestException as exc:
            raise OAuthError(f"WearSync could not reach {self.label} to check the client ({type(exc).__name__}). "
                             "Check the internet connection and try again.") from None
        except (_Refused, OAuth2Error) as exc:
            error = exc.error if isinstance(exc, _Refused) else str(exc.error or "")
            log.info("%s client check: the token endpoint answered %s", self.vendor, error or statuses[-1:])
            if error == "invalid_grant":
                return True
            if error in ("invalid_client", "401") or (statuses and statuses[-1] == 401):
                return False
            raise OAuthError(f"{self.label} answered the check in a way WearSync does not know ({error}), so it "
                             "cannot say whether the client is right. Try again later.") from None
        except OAuthError:
            if statuses and statuses[-1] == 401:  # refused the client before anything else, with no JSON
                return False
            raise
        except Exception as exc:
            self._failed(exc, refreshing=False)
        raise OAuthError(f"{self.label} accepted a made-up sign-in code, so the address it was asked at does not "
                         "behave like its token endpoint. Check the address settings.")

    def parse_token(self, body: Mapping[str, Any], previous: TokenSet | None, now: dt.datetime) -> TokenSet:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise OAuthError(f"{self.label} answered without an access token. Try connecting again.")
        raw_scope = body.get("scope")
        if isinstance(raw_scope, str):
            raw_scope = [raw_scope]
        scopes = tuple(s for part in raw_scope or () for s in str(part).replace(",", " ").split())
        if not scopes:
            scopes = previous.scopes if previous else self.scopes
        user_id = body.get("user_id")
        return TokenSet(
            access_token=access,
            # vendors that do not rotate refresh tokens leave it out of a refresh answer
            refresh_token=body.get("refresh_token") or (previous.refresh_token if previous else None),
            # expires_in, not oauthlib's expires_at: that one is read from the computer's clock
            expires_at=expires_at(body.get("expires_in"), now),
            scopes=scopes,
            user_id=str(user_id) if user_id not in (None, "") else (previous.user_id if previous else None),
            token_type=str(body.get("token_type") or "Bearer"),
        )

    # ------------------------------------------------------------------ errors
    def _insecure(self, url: str) -> NoReturn:
        raise OAuthError(
            f"The {self.label} sign-in address must start with https:// (plain http is allowed only for this "
            f"computer's own address). Check the WEARSYNC_{self.vendor.upper()}_* settings."
        )

    def _failed(self, exc: Exception, refreshing: bool) -> NoReturn:
        import requests
        from oauthlib.oauth2 import InsecureTransportError, MissingTokenError, OAuth2Error

        if isinstance(exc, OAuthError):
            raise exc
        if isinstance(exc, InsecureTransportError):
            self._insecure(self.endpoints.token_url)
        if isinstance(exc, requests.RequestException):
            raise OAuthError(
                f"{self.label} could not be reached ({type(exc).__name__}). Check the internet connection "
                "and try again."
            ) from None
        if isinstance(exc, MissingTokenError):
            raise OAuthError(f"{self.label} answered without an access token. Try connecting again.") from None
        if isinstance(exc, _Refused):
            self.token_error(exc.error, refreshing)
        if isinstance(exc, OAuth2Error):
            self.token_error(str(exc.error or "refused"), refreshing)
        if isinstance(exc, ValueError):  # e.g. an expires_in that is not a number
            raise OAuthError(f"{self.label} sent a sign-in answer WearSync could not read. Try again; if it "
                             "keeps happening, tell the WearSync administrator.") from None
        raise exc

    def token_error(self, error: str, refreshing: bool) -> NoReturn:
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
