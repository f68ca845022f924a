"""Connecting a patient's vendor account: "connect here", remote enrolment links, re-consent, revoke.

Flow: `begin()` makes a one-time state (and PKCE verifier) and the vendor's consent URL; the
patient consents in a browser; the vendor redirects to the callback listener, whose
`handle_callback()` checks the state, exchanges the code at once, identifies the account (Polar:
registers it), refuses a different account than the one already connected, and stores the tokens
encrypted. `wait()` lets the CLI or the GUI block (off the UI thread) until that happens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select, update

from db.engine import Database
from db.models import Connection, EnrolmentLink, Patient
from services import config
from services.accounts.actor import SYSTEM, Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.connect.callback_server import CallbackServer, Page
from services.connect.oauth.base import ConsentRevoked, OAuthError, TokenSet
from services.connect.oauth.states import InvalidState, PendingState, StateStore, state_hash
from services.connect.tokens import TokenManager
from services.crypto import TokenCipher
from services.errors import NotFound, WearSyncError
from services.patients.service import PatientService
from services.settings import Settings
from services.vendors import VendorRegistry
from services.vendors.base import AccountInfo, VendorCallError
from services.vendors.http import ApiClient

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 600.0


class ConnectHost(Protocol):
    """What connecting needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def cipher(self) -> TokenCipher: ...
    @property
    def environ(self) -> Mapping[str, str]: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def patients(self) -> PatientService: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...


class ConnectTimeout(WearSyncError):
    title = "No answer from the consent page"


class ConnectFailed(WearSyncError):
    title = "Not connected"


class EnrolmentLinkInvalid(WearSyncError):
    title = "This link cannot be used"


@dataclass(frozen=True)
class PendingConnect:
    patient_code: str
    vendor: str
    authorize_url: str
    state: str = field(repr=False)
    expires_at: dt.datetime
    redirect_uri: str
    warning: str | None = None  # e.g. Withings needs the tunnel's public address


@dataclass(frozen=True)
class ConnectOutcome:
    ok: bool
    patient_code: str
    vendor: str
    message: str  # for the coordinator
    scopes_missing: tuple[str, ...] = ()
    timezone: str | None = None


@dataclass(frozen=True)
class EnrolmentLinkInfo:
    patient_code: str
    vendor: str
    url: str = field(repr=False)  # holds the secret token
    expires_at: dt.datetime
    reachable_from_phone: bool  # False while the public URL is loopback (no tunnel)

    def qr_png(self, scale: int = 6) -> bytes:
        import segno

        buf = io.BytesIO()
        segno.make(self.url, error="m").save(buf, kind="png", scale=scale, border=2)
        return buf.getvalue()

    def qr_svg(self, scale: int = 6) -> str:
        import segno

        buf = io.BytesIO()
        segno.make(self.url, error="m").save(buf, kind="svg", scale=scale, border=2, xmldecl=False)
        return buf.getvalue().decode("utf-8")


@dataclass(frozen=True)
class ConnectionState:
    id: int
    patient_code: str
    vendor: str
    status: str
    timezone: str | None
    scopes_granted: tuple[str, ...]
    scopes_missing: tuple[str, ...]
    last_error: str | None
    last_sync_at: dt.datetime | None
    connected_at: dt.datetime | None
    token_expires_at: dt.datetime | None


@dataclass(frozen=True)
class RevokeResult:
    patient_code: str
    vendor: str
    revoked_at_vendor: bool
    message: str


class _Waiter:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.event = threading.Event()
        self.outcome: ConnectOutcome | None = None


class _FixedTokens:
    """Token provider for the calls made right after consent (fresh tokens, nothing to renew)."""

    def __init__(self, tokens: TokenSet) -> None:
        self.tokens = tokens

    def access_token(self) -> str:
        return self.tokens.access_token

    def refresh(self, stale: str) -> str:
        raise ConsentRevoked("The vendor refused the brand-new connection. Try connecting again.")


class ConnectionService:
    def __init__(
        self,
        app: ConnectHost,
        vendors: VendorRegistry,
        tokens: TokenManager,
        *,
        clock: Clock | None = None,
        public_url: Callable[[], str] | None = None,
        http_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.db = app.db
        self.vendors = vendors
        self.tokens = tokens
        self.clock = clock or app.clock
        self.states = StateStore(app.db, app.cipher, self.clock)
        # the tunnel service may swap this for its live public URL
        self.public_url: Callable[[], str] = public_url or (lambda: config.public_base_url(app.environ))
        self.http_timeout = http_timeout
        self._waiters: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self.listener: CallbackServer | None = None
        self.listener_error: WearSyncError | None = None  # why the background listener is not running
        self.on_change: list[Callable[[ConnectOutcome], None]] = []  # GUI adapters subscribe here

    # ------------------------------------------------------------------ listener
    def start_listener(self, port: int | None = None) -> CallbackServer:
        if self.listener is None or not self.listener.running:
            p = config.callback_port(self.app.environ) if port is None else port
            self.listener = CallbackServer(self, p).start()
        return self.listener

    def stop_listener(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    def redirect_uri(self) -> str:
        return self.public_url().rstrip("/") + "/oauth2_callback"

    # ------------------------------------------------------------------ connect here
    def begin(self, patient_code: str, vendor: str, actor: Actor, *, purpose: str = "connect") -> PendingConnect:
        """Create the consent URL for a patient's vendor account (creates the patient if needed)."""
        actor.require("connections.edit")
        v = self.vendors.get(vendor)
        oauth = v.oauth(timeout=self.http_timeout)  # missing client secrets: fail before changing anything
        self.app.patients.ensure(patient_code, v.name, actor)
        code = self.app.patients.get(patient_code).code
        verifier = None
        if oauth.uses_pkce:
            from services.connect.oauth.base import pkce_verifier

            verifier = pkce_verifier()
        redirect = self.redirect_uri()
        state, expires = self.states.create(PendingState(code, v.name, purpose, redirect, verifier))
        with self._lock:
            self._waiters[state_hash(state)] = _Waiter(actor)
        url = oauth.authorize_url(state, redirect, verifier)
        log.info("consent started for a %s account (%s)", v.name, purpose)
        warning = None
        real_vendor = v.endpoints.authorize_url == v.default_endpoints.authorize_url
        if v.needs_public_redirect and real_vendor and not redirect.startswith("https://"):
            warning = (f"{v.label} only accepts a public https address for the sign-in answer. Start the tunnel "
                       "first (Tunnel page, or main.py tunnel start), then connect again.")
        return PendingConnect(code, v.name, url, state, expires, redirect, warning)

    def wait(self, pending: PendingConnect, timeout: float = DEFAULT_WAIT_S,
             cancel: threading.Event | None = None) -> ConnectOutcome:
        """Block until the callback for `pending` was handled; ConnectTimeout after `timeout` seconds."""
        key = state_hash(pending.state)
        with self._lock:
            waiter = self._waiters.get(key)
        if waiter is None:
            raise NotFound("That connection attempt is not waiting any more. Start it again.")
        deadline = timeout
        step = 0.2
        while deadline > 0:
            if waiter.event.wait(min(step, deadline)):
                break
            deadline -= step
            if cancel is not None and cancel.is_set():
                break
        with self._lock:
            self._waiters.pop(key, None)
        if waiter.outcome is None:
            label = self.vendors.label(pending.vendor)
            if cancel is not None and cancel.is_set():
                raise ConnectFailed(f"Connecting {label} for patient {pending.patient_code} was cancelled.")
            raise ConnectTimeout(
                f"No answer from the {label} consent page within {int(timeout)} seconds; nothing was connected. "
                "Start the connection again when the patient is ready."
            )
        return waiter.outcome

    # ------------------------------------------------------------------ the callback
    def handle_callback(self, params: dict[str, str]) -> Page:
        try:
            pending = self.states.consume(params.get("state"))
        except InvalidState as exc:
            log.warning("callback refused: %s", exc.message)
            waiter = self._waiter(params.get("state", ""))
            known = self.states.peek(params["state"]) if params.get("state") else None
            if waiter is not None and known is not None:
                self._finish(waiter, ConnectOutcome(False, known.patient_code, known.vendor, exc.message))
            return Page(False, "This sign-in link is not valid", exc.message)
        waiter = self._waiter(params.get("state", ""))
        label = self.vendors.label(pending.vendor)
        if params.get("error") or not params.get("code"):
            denied = params.get("error") == "access_denied"
            msg = (f"The patient declined to share {label} data; nothing was connected." if denied
                   else f"{label} did not complete the sign-in ({params.get('error') or 'no code'}); "
                        "nothing was connected.")
            self._finish(waiter, ConnectOutcome(False, pending.patient_code, pending.vendor, msg))
            return Page(False, "Not connected", "You chose not to share your data, so nothing was connected. "
                        "If this was a mistake, open the link again." if denied else
                        "The sign-in did not finish, so nothing was connected. Please try again.")
        try:
            outcome = self._complete(pending, params["code"], waiter.actor if waiter else SYSTEM)
        except (OAuthError, VendorCallError, WearSyncError) as exc:
            log.warning("connecting a %s account failed: %s", pending.vendor, exc.message)
            self._finish(waiter, ConnectOutcome(False, pending.patient_code, pending.vendor, exc.message))
            return Page(False, "Not connected", _patient_words(exc, label))
        self._finish(waiter, outcome)
        note = ""
        if outcome.scopes_missing:
            note = " Some data was not shared, so the clinic may ask you to connect again."
        return Page(True, "You're connected", f"Your {label} account is now connected to the clinic.{note}")

    def _waiter(self, state: str) -> _Waiter | None:
        with self._lock:
            return self._waiters.get(state_hash(state)) if state else None

    def _finish(self, waiter: _Waiter | None, outcome: ConnectOutcome) -> None:
        if waiter is not None:
            waiter.outcome = outcome
            waiter.event.set()
        for cb in list(self.on_change):
            try:
                cb(outcome)
            except Exception:
                log.exception("a connection listener failed")

    def _complete(self, pending: PendingState, code: str, actor: Actor) -> ConnectOutcome:
        vendor = self.vendors.get(pending.vendor)
        oauth = vendor.oauth(timeout=self.http_timeout)
        conn_id, old_user = self._connection(pending.patient_code, vendor.name)
        # exchanged at once: a Withings code lives 30 seconds
        tokens = oauth.exchange_code(code, pending.redirect_uri, pending.verifier)
        if tokens.user_id:
            self._check_account(conn_id, vendor.name, old_user, tokens.user_id)
        api = ApiClient(vendor, _FixedTokens(tokens), timeout=self.http_timeout, max_retries=2)
        account: AccountInfo = vendor.after_connect(api, tokens, member_id=f"wearsync-{conn_id}")
        self._check_account(conn_id, vendor.name, old_user, account.user_id)
        if vendor.oauth_class.supports_refresh and not tokens.refresh_token:
            raise OAuthError(f"{vendor.label} did not grant lasting access (no refresh token). "
                             "Start the connection again.")
        now = self.clock.utcnow()
        blob = self.app.cipher.encrypt(tokens.to_dict())
        with self.db.session() as s:
            conn = s.get(Connection, conn_id)
            if conn is None:
                raise NotFound(f"Patient {pending.patient_code} was removed while connecting.")
            conn.token_ciphertext = blob
            conn.token_expires_at = tokens.expires_at
            conn.status = "connected"
            conn.vendor_user_id = account.user_id
            conn.scopes_granted = " ".join(tokens.scopes)
            conn.scopes_missing = " ".join(account.scopes_missing)
            conn.timezone = account.timezone or conn.timezone
            conn.last_error = None
            if conn.connected_at is None or old_user != account.user_id:
                conn.connected_at = now
            if vendor.registers_users and conn.registered_at is None:
                conn.registered_at = now
            conn.updated_at = now
            if pending.purpose == "enrol":
                s.execute(update(EnrolmentLink)
                          .where(EnrolmentLink.patient_code == pending.patient_code,
                                 EnrolmentLink.vendor == vendor.name, EnrolmentLink.used_at.is_(None))
                          .values(used_at=now))
        missing_labels = tuple(vendor.scope_label(s) for s in account.scopes_missing)
        how = "by enrolment link" if pending.purpose == "enrol" else "here"
        self.app.audit.record(actor, "connection.connect", f"{pending.patient_code}/{vendor.name}",
                              f"connected {how}" + (f"; not granted: {', '.join(missing_labels)}"
                                                    if missing_labels else ""))
        msg = f"Connected {vendor.label} for patient {pending.patient_code}."
        if missing_labels:
            msg += f" The patient did not share: {', '.join(missing_labels)}; that data will not be downloaded."
        log.info("a %s account was connected", vendor.name)
        return ConnectOutcome(True, pending.patient_code, vendor.name, msg, missing_labels, account.timezone)

    def _connection(self, patient_code: str, vendor: str) -> tuple[int, str | None]:
        with self.db.session() as s:
            row = s.execute(
                select(Connection.id, Connection.vendor_user_id, Connection.status)
                .join(Patient, Patient.id == Connection.patient_id)
                .where(Patient.code == patient_code, Patient.deleted_at.is_(None), Connection.vendor == vendor)
            ).first()
        if row is None:
            raise NotFound(f"Patient {patient_code} has no {self.vendors.label(vendor)} device any more.")
        old = row.vendor_user_id if row.status in ("connected", "needs_reconsent", "error") else None
        return int(row.id), old

    def _check_account(self, conn_id: int, vendor: str, old_user: str | None, new_user: str) -> None:
        label = self.vendors.label(vendor)
        if old_user and old_user != new_user:
            raise ConnectFailed(
                f"This is a different {label} account than the one already connected for this patient, so it "
                f"was not saved. Sign in with the same {label} account, or remove the old connection first."
            )
        with self.db.session() as s:
            other = s.scalar(
                select(Patient.code).join(Connection, Connection.patient_id == Patient.id)
                .where(Connection.vendor == vendor, Connection.vendor_user_id == new_user, Connection.id != conn_id,
                       Connection.status.in_(("connected", "needs_reconsent", "error")),
                       Patient.deleted_at.is_(None))
            )
        if other is not None:
            raise ConnectFailed(
                f"This {label} account is already connected to patient {other}, so it was not saved. "
                "Each patient needs their own account."
            )

    # ------------------------------------------------------------------ enrolment links
    def create_enrolment_link(self, patient_code: str, vendor: str, actor: Actor) -> EnrolmentLinkInfo:
        actor.require("connections.edit")
        v = self.vendors.get(vendor)
        v.credentials()  # say now, not on the patient's phone, that the client secrets are missing
        self.app.patients.ensure(patient_code, v.name, actor)
        code = self.app.patients.get(patient_code).code
        token = secrets.token_urlsafe(24)
        hours = int(self.app.settings.get("enrol_link_hours"))
        now = self.clock.utcnow()
        expires = now + dt.timedelta(hours=hours)
        with self.db.session() as s:
            s.add(EnrolmentLink(token_hash=_sha(token), patient_code=code, vendor=v.name,
                                created_by=actor.username[:64], created_at=now, expires_at=expires))
        base = self.public_url().rstrip("/")
        self.app.audit.record(actor, "enrolment.create", f"{code}/{v.name}", f"expires {expires:%Y-%m-%d %H:%M} UTC")
        local = base.startswith(("http://127.", "http://localhost", "http://[::1]"))
        return EnrolmentLinkInfo(code, v.name, f"{base}/enrol/{token}", expires, not local)

    def open_enrolment(self, token: str) -> str:
        """The vendor consent URL behind an enrolment link (fresh state each time it is opened)."""
        now = self.clock.utcnow()
        with self.db.session() as s:
            link = s.get(EnrolmentLink, _sha(token)) if token else None
            if link is None:
                raise EnrolmentLinkInvalid("This link is not valid. Ask the clinic to send you a new one.")
            if link.used_at is not None:
                raise EnrolmentLinkInvalid("This link has already been used. If you need to connect again, "
                                           "ask the clinic for a new link.")
            if link.expires_at <= now:
                raise EnrolmentLinkInvalid("This link has expired. Ask the clinic to send you a new one.")
            code, vendor = link.patient_code, link.vendor
        if not self.app.patients.exists(code):
            raise EnrolmentLinkInvalid("This link is no longer valid. Ask the clinic to send you a new one.")
        return self.begin(code, vendor, SYSTEM, purpose="enrol").authorize_url

    # ------------------------------------------------------------------ status, revoke
    def connection_id(self, patient_code: str, vendor: str) -> int:
        cid, _ = self._connection(patient_code.strip(), self.vendors.get(vendor).name)
        return cid

    def get(self, patient_code: str, vendor: str) -> ConnectionState:
        cid = self.connection_id(patient_code, vendor)
        with self.db.session() as s:
            c = s.get(Connection, cid)
            assert c is not None
            return ConnectionState(c.id, patient_code.strip(), c.vendor, c.status, c.timezone,
                                   tuple(c.scopes_granted.split()), tuple(c.scopes_missing.split()), c.last_error,
                                   c.last_sync_at, c.connected_at, c.token_expires_at)

    def revoke(self, code: str, vendor: str, actor: Actor) -> RevokeResult:
        """Withdraw a connection: revoke at the vendor (best effort), forget the tokens, keep the data."""
        actor.require("connections.edit")
        v = self.vendors.get(vendor)
        cid = self.connection_id(code, v.name)
        at_vendor = False
        problem = ""
        with self.tokens.lock(cid):
            with self.db.session() as s:
                conn = s.get(Connection, cid)
                assert conn is not None
                blob = conn.token_ciphertext
            if blob is not None:
                try:
                    tokens = TokenSet.from_dict(self.app.cipher.decrypt(blob))
                    oauth = v.oauth(timeout=self.http_timeout)
                    api = ApiClient(v, _FixedTokens(tokens), timeout=self.http_timeout, max_retries=1)
                    v.revoke(oauth, api, tokens)
                    at_vendor = True
                except Exception as exc:  # the local withdrawal must happen whatever the vendor says
                    problem = getattr(exc, "message", type(exc).__name__)
                    log.warning("revoking a %s connection at the vendor failed: %s", v.name, problem)
            with self.db.session() as s:
                s.execute(update(Connection).where(Connection.id == cid).values(
                    status="withdrawn", token_ciphertext=None, token_expires_at=None,
                    last_error=None, updated_at=self.clock.utcnow()))
        self.states.discard_for(code.strip(), v.name)
        self.app.audit.record(actor, "connection.revoke", f"{code.strip()}/{v.name}",
                              "revoked at vendor" if at_vendor else f"vendor not reached: {problem or 'no token'}")
        msg = (f"{v.label} access for patient {code.strip()} was withdrawn; data already downloaded is kept."
               if at_vendor else
               f"{v.label} access for patient {code.strip()} was removed here, but {v.label} could not be told "
               f"({problem or 'no stored token'}). The patient can also remove WearSync in their {v.label} account.")
        return RevokeResult(code.strip(), v.name, at_vendor, msg)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def scope_labels(vendor: str, scopes: str | tuple[str, ...]) -> tuple[str, ...]:
    """Plain names for stored scopes ("heart rate", "sleep"), e.g. for Connection.scopes_missing."""
    items = scopes.split() if isinstance(scopes, str) else scopes
    from services.vendors import VENDOR_CLASSES

    cls = VENDOR_CLASSES.get(vendor)
    return tuple(cls.scope_label(s) if cls else s for s in items)


def _patient_words(exc: WearSyncError, label: str) -> str:
    """What the patient on a phone sees: plain words, no internals."""
    if isinstance(exc, ConnectFailed):
        return exc.message
    if "consents" in exc.message:
        return exc.message
    return (f"The connection to {label} did not finish, so nothing was saved. Please try again, or contact the "
            "clinic if it keeps failing.")
