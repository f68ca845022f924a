"""What every vendor module provides, and the plain records its parsers produce.

A vendor module (fitbit.py, withings.py, polar.py) subclasses `Vendor`: its OAuth quirks, its
endpoints, how its answers signal errors, and parsers that turn payloads into `Records` — plain
dicts whose keys are the columns of db/models.py (without patient_id/vendor, which the sync
service adds). The vendor never touches the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from services.clock import Clock
from services.errors import WearSyncError

if TYPE_CHECKING:  # requests and oauthlib load with the first vendor module, not with the records (issue 15)
    import requests

    from services.connect.oauth.base import Endpoints, OAuth2Implementation, TokenSet
    from services.secrets import SecretStore
    from services.vendors.http import ApiClient

Record = dict[str, Any]


# --------------------------------------------------------------------------- errors of a data call


class VendorCallError(WearSyncError):
    title = "Download problem"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthExpired(VendorCallError):
    """401 / Withings 401: refresh the token once and retry."""


class RateLimited(VendorCallError):
    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class VendorUnavailable(VendorCallError):
    """5xx, timeout, connection reset: retried with backoff."""


class MalformedPayload(VendorCallError):
    """An answer we cannot read: that page is rejected, the rest of the sync goes on."""


class ScopeDenied(VendorCallError):
    """The patient did not grant the permission this data needs."""


class VendorRejected(VendorCallError):
    """Any other refusal (bad parameters, not found)."""


# --------------------------------------------------------------------------- records


@dataclass
class Records:
    """Normalised rows from one fetch; each list holds dicts keyed by model columns."""

    heart_rate: list[Record] = field(default_factory=list)
    steps: list[Record] = field(default_factory=list)
    resting_heart_rate: list[Record] = field(default_factory=list)
    sleep_sessions: list[Record] = field(default_factory=list)
    sleep_stages: list[Record] = field(default_factory=list)
    respiratory: list[Record] = field(default_factory=list)
    snoring: list[Record] = field(default_factory=list)
    exercises: list[Record] = field(default_factory=list)
    daily_activity: list[Record] = field(default_factory=list)
    body_measures: list[Record] = field(default_factory=list)
    timezone: str | None = None  # a time zone the payload revealed (Withings series)

    def items(self) -> Iterator[tuple[str, list[Record]]]:
        for f in fields(self):
            if f.name != "timezone":
                yield f.name, getattr(self, f.name)

    def total(self) -> int:
        return sum(len(rows) for _, rows in self.items())


@dataclass(frozen=True)
class DataType:
    """One kind of data a vendor offers, synced and tracked (coverage) per local day."""

    name: str  # coverage data_type and the name shown to users
    primary: str  # the Records list whose rows say "this day has data"
    chunk_days: int  # days per request window and per database transaction
    scope: str | None = None  # permission it needs (None: always available)
    continuous: bool = False  # worn all day: a synced day with no rows means "not worn"
    # every Records list this data type fills (the primary one and what comes with it, e.g. a night's
    # stages and breathing): deleting any of them makes this data type's day "not downloaded" again
    writes: tuple[str, ...] = ()

    def fills(self) -> tuple[str, ...]:
        return (self.primary, *(w for w in self.writes if w != self.primary))


@dataclass(frozen=True)
class DeviceInfo:
    external_id: str
    device_type: str
    model: str
    last_sync_utc: dt.datetime | None
    battery_level: int | None
    battery_status: str | None


@dataclass(frozen=True)
class AccountInfo:
    """What a vendor tells us about the account right after consent."""

    user_id: str
    timezone: str | None = None
    scopes_missing: tuple[str, ...] = ()


@dataclass
class FetchContext:
    """Per-sync scratch space a vendor may use to avoid asking twice (e.g. Polar's exercise list)."""

    timezone: str | None
    cache: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- the vendor


class Vendor:
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    env_prefix: ClassVar[str] = ""  # WEARSYNC_<PREFIX>_AUTHORIZE_URL ...; client secrets <PREFIX>_CLIENT_ID
    default_endpoints: ClassVar[Endpoints]
    oauth_class: ClassVar[type[OAuth2Implementation]]
    data_types: ClassVar[tuple[DataType, ...]] = ()
    first_sync_days: ClassVar[int] = 7
    history_from_connection: ClassVar[bool] = False  # Polar: data exists only from registration on
    # how many past days the vendor keeps for us to download (Polar: 30); None: its whole history
    keeps_days: ClassVar[int | None] = None
    # Withings refuses loopback redirect URIs: the tunnel (WEARSYNC_PUBLIC_URL) is required for real use
    needs_public_redirect: ClassVar[bool] = False
    # the vendor's own account must be registered after consent (Polar AccessLink `POST /v3/users`);
    # its quota then grows with the number of registered users
    registers_users: ClassVar[bool] = False
    # plain names for the OAuth scopes, for "what the patient did not share" messages
    scope_labels: ClassVar[dict[str, str]] = {}
    # what the patient is asked to do when the device has not synced for N days (alerts)
    device_sync_advice: ClassVar[str] = "Ask the patient to open the {label} app and sync it."
    # None: the vendor reports when the device last synced. Otherwise the vendor reports no device
    # sync, so "no new exercise or daily activity for N days" stands in for it, with this advice.
    no_new_data_advice: ClassVar[str | None] = None
    # who issues the OAuth client and where it is managed, for Settings → Secrets → Test
    client_owner: ClassVar[str] = ""
    client_portal: ClassVar[str] = ""

    @classmethod
    def scope_label(cls, scope: str) -> str:
        return cls.scope_labels.get(scope, scope.rsplit("/", 1)[-1])

    def __init__(self, environ: Mapping[str, str], secrets: SecretStore | None = None,
                 clock: Clock | None = None) -> None:
        self.environ = environ
        self.secrets = secrets
        self.clock = clock or Clock.from_environ(environ)

    def __repr__(self) -> str:
        return f"<Vendor {self.name}>"

    # ------------------------------------------------------------------ configuration
    @property
    def endpoints(self) -> Endpoints:
        from services.connect.oauth.base import Endpoints

        d = self.default_endpoints
        env = self.environ

        def pick(key: str, default: str) -> str:
            return (env.get(f"WEARSYNC_{self.env_prefix}_{key}") or default).strip().rstrip("/")

        return Endpoints(
            pick("AUTHORIZE_URL", d.authorize_url),
            pick("TOKEN_URL", d.token_url),
            pick("API_URL", d.api_url),
            pick("REVOKE_URL", d.revoke_url),
        )

    def credentials(self) -> tuple[str, str]:
        names = (f"{self.env_prefix}_CLIENT_ID", f"{self.env_prefix}_CLIENT_SECRET")
        values: list[str] = []
        for name in names:
            value = self.environ.get(name) or (self.secrets.get(name) if self.secrets else None)
            if not value:
                from services.errors import MissingSecret

                raise MissingSecret(
                    f"The {self.label} client ID and secret are not set. Enter both in Settings → Secrets, "
                    f"under {self.label}.",
                    terminal_hint=f"From a terminal: main.py secrets set {names[0]} and main.py secrets set "
                                  f"{names[1]}, or the environment variables {names[0]} and {names[1]}.",
                )
            values.append(value)
        return values[0], values[1]

    def oauth(self, session: requests.Session | None = None, timeout: float = 30.0) -> OAuth2Implementation:
        cid, secret = self.credentials()
        return self.oauth_class(cid, secret, self.endpoints, session=session, timeout=timeout, clock=self.clock)

    def client_secret_names(self) -> tuple[str, str]:
        return f"{self.env_prefix}_CLIENT_ID", f"{self.env_prefix}_CLIENT_SECRET"

    def check_client(self, name: str, value: str, redirect_uri: str, timeout: float = 15.0) -> str:
        """Settings → Secrets → Test for this vendor's client ID or secret (`name`, tested with `value` and
        the other one as stored): the vendor's token endpoint is asked whether it knows the pair. Returns
        the sentence for a known client; raises ClientNotKnown, MissingSecret or OAuthError (unreachable,
        unexpected answer) otherwise, so nothing but a real answer reads as success."""
        from services.connect.oauth.base import ClientNotKnown
        from services.errors import MissingSecret

        id_name, secret_name = self.client_secret_names()
        testing_id = name == id_name
        other_name = secret_name if testing_id else id_name
        other = self.environ.get(other_name) or (self.secrets.get(other_name) if self.secrets else None)
        owner, portal = self.client_owner or self.label, self.client_portal or f"{self.label}'s developer site"
        if not other:
            raise MissingSecret(f"Set the {self.label} client {'secret' if testing_id else 'ID'} too: {owner} "
                                "can only check the client ID and secret together.")
        cid, secret = (value, other) if testing_id else (other, value)
        oauth = self.oauth_class(cid, secret, self.endpoints, timeout=timeout, clock=self.clock)
        if oauth.knows_client(redirect_uri):
            return (f"{owner} knows this client ID." if testing_id else
                    f"{owner} knows the client ID and accepts this secret.")
        raise ClientNotKnown(
            f"{owner} does not know this client ID, or the secret does not belong to it: check both in {portal}."
            if testing_id else
            f"{owner} does not accept this client secret with the client ID: check both in {portal}.")

    def data_type(self, name: str) -> DataType:
        for t in self.data_types:
            if t.name == name:
                return t
        raise KeyError(name)

    # ------------------------------------------------------------------ answers
    def check_response(self, resp: requests.Response) -> Any:
        """Parsed body of a successful answer, or the VendorCallError it stands for."""
        status = resp.status_code
        if status == 401:
            raise AuthExpired(f"{self.label} says the access token is no longer valid.")
        if status == 429:
            raise RateLimited(f"{self.label} asks us to slow down.", self.retry_after(resp))
        if status >= 500:
            raise VendorUnavailable(f"{self.label} had a temporary problem (HTTP {status}).", status=status)
        if status == 403:
            raise ScopeDenied(f"{self.label} refused access to this data (HTTP 403).", status=403)
        if status == 204:
            return None
        if status >= 400:
            raise VendorRejected(f"{self.label} refused the request (HTTP {status}).", status=status)
        try:
            return resp.json()
        except ValueError:
            raise MalformedPayload(f"{self.label} sent an answer that could not be read.") from None

    def retry_after(self, resp: requests.Response) -> float | None:
        raw = resp.headers.get("Retry-After")
        try:
            return float(raw) if raw else None
        except ValueError:
            return None

    # ------------------------------------------------------------------ account and data
    def after_connect(self, api: ApiClient, tokens: TokenSet, member_id: str) -> AccountInfo:
        """Identify the account (and register it where the vendor requires that)."""
        raise NotImplementedError

    def current_timezone(self, api: ApiClient) -> str | None:
        """The account's IANA time zone, when the vendor tells it."""
        return None

    def devices(self, api: ApiClient) -> list[DeviceInfo] | None:
        """Paired devices, or None when the vendor does not report them."""
        return None

    def fetch(self, api: ApiClient, data_type: str, start: dt.date, end: dt.date, ctx: FetchContext) -> Records:
        """Everything of `data_type` whose patient-local date lies in start..end (inclusive)."""
        raise NotImplementedError

    def revoke(self, oauth: OAuth2Implementation, api: ApiClient, tokens: TokenSet) -> None:
        oauth.revoke(tokens)
