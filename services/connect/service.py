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
from typing import Any, Literal, Protocol

from sqlalchemy import select, update

from db.engine import Database
from db.models import Connection, EnrolmentLink, Patient
from services import config
from services.accounts.actor import SYSTEM, Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.connect import patient_pages
from services.connect.callback_server import RESULT_PREFIX, CallbackServer
from services.connect.oauth.base import ConsentRevoked, OAuthError, TermsNotAccepted, TokenSet
from services.connect.oauth.states import InvalidState, PendingState, StateStore, new_state, state_hash
from services.connect.patient_pages import Clinic, Page, PatientPageError
from services.connect.tokens import TokenManager
from services.crypto import TokenCipher
from services.errors import InvalidInput, NotFound, WearSyncError
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
RESULT_LIFETIME = dt.timedelta(hours=24)  # how long a reload of a result page shows the same page
RESULTS_KEPT = 1000
RESULT_GRACE_S = 5.0  # stopping the listener waits this long for a result page the browser is about to fetch
# an enrolment link opened more often than this within the window is refused for a while
LINK_OPENS_PER_WINDOW = 20
LINK_OPEN_WINDOW = dt.timedelta(minutes=10)


class ConnectTimeout(WearSyncError):
    title = "No answer from the consent page"


class ConnectFailed(WearSyncError):
    title = "Not connected"


class AccountLinkedElsewhere(ConnectFailed):
    """The vendor account already belongs to another patient (the message names them: coordinator only)."""


class DifferentAccount(ConnectFailed):
    """Re-consent with another vendor account than the one connected before."""


class EnrolmentLinkInvalid(PatientPageError):
    title = "This link cannot be used"


class LinkNoLongerValid(ConnectFailed):
    """The pending consent's patient was renamed, moved, deleted or withdrawn since it started."""

    title = "This link is no longer valid"


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
    connection_id: int | None = None
    scopes_not_shared: tuple[str, ...] = ()  # the vendor's own scope names (scopes_missing: plain labels)


@dataclass(frozen=True)
class LinkRow:
    """An enrolment link as the coordinator sees it (never its secret token)."""

    id: str  # the start of the token's hash: names the link in `links revoke`
    patient_code: str
    vendor: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    state: str  # open | used | expired | cancelled


MAX_LINK_HOURS = 30 * 24


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


@dataclass(frozen=True)
class _UsableLink:
    key: str  # the link's hash
    code: str
    vendor: str
    patient_id: int
    held: bytes | None = field(repr=False)  # its pending state, encrypted


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
        self._link_opens: dict[str, list[dt.datetime]] = {}  # link hash -> recent openings (rate limit)
        self._lock = threading.Lock()
        self.listener: CallbackServer | None = None
        self.listener_error: WearSyncError | None = None  # why the background listener is not running
        self.on_change: list[Callable[[ConnectOutcome], None]] = []  # GUI adapters subscribe here
        # what the patient saw, so a reload shows it again: by result id, and by state for successes
        self._results: dict[str, tuple[dt.datetime, Page, str]] = {}  # id -> (when, page, its state's hash)
        self._completed: dict[str, tuple[dt.datetime, Page, int]] = {}
        self._unserved: set[str] = set()  # result pages redirected to but not fetched yet
        self._served = threading.Condition(self._lock)

    # ------------------------------------------------------------------ listener
    def start_listener(self, port: int | None = None) -> CallbackServer:
        if self.listener is None or not self.listener.running:
            p = config.callback_port(self.app.environ) if port is None else port
            self.listener = CallbackServer(self, p).start()
        return self.listener

    def stop_listener(self, grace: float = RESULT_GRACE_S) -> None:
        """Stop the listener; first let a browser that was just redirected fetch its result page
        (`main.py connect` stops as soon as the answer is handled), waiting at most `grace` seconds."""
        if self.listener is not None:
            with self._served:
                self._served.wait_for(lambda: not self._unserved, timeout=grace)
                self._unserved.clear()
            self.listener.stop()
            self.listener = None

    def redirect_uri(self) -> str:
        return self.public_url().rstrip("/") + "/oauth2_callback"

    # ------------------------------------------------------------------ connect here
    def begin(self, patient_code: str, vendor: str, actor: Actor, *, purpose: str = "connect") -> PendingConnect:
        """Create the consent URL for a patient's vendor account (creates the patient if needed)."""
        actor.require("connections.edit")
        v = self.vendors.get(vendor)
        v.oauth(timeout=self.http_timeout)  # missing client secrets: fail before changing anything
        self.app.cipher.ensure_key()  # and a password store that cannot keep the token key
        self.app.patients.ensure(patient_code, v.name, actor)
        code = self.app.patients.get(patient_code).code
        pid = self._bound_patient(code, v.name, None)
        if pid is None:
            raise NotFound(f"Patient {code} was removed while connecting.")
        return self._start(pid, code, v.name, actor, purpose)

    def _start(self, patient_id: int, code: str, vendor: str, actor: Actor, purpose: str,
               reuse: str | None = None) -> PendingConnect:
        """A consent URL for the patient's row `patient_id` (reusing the pending state `reuse` if still good)."""
        v = self.vendors.get(vendor)
        oauth = v.oauth(timeout=self.http_timeout)
        redirect = self.redirect_uri()
        again = self.states.reusable(reuse) if reuse else None
        if reuse and again is not None and again.redirect_uri == redirect and again.patient_id == patient_id:
            state = reuse
            url = oauth.authorize(state, redirect, again.verifier).url  # the same state and verifier again
            expires = self.clock.utcnow() + self.states.lifetime  # at most; the stored expiry still applies
        else:
            state = new_state()
            consent = oauth.authorize(state, redirect)  # the consent URL, and its PKCE verifier where used
            state, expires = self.states.create(
                PendingState(code, v.name, purpose, redirect, consent.verifier, patient_id), state)
            url = consent.url
        if purpose != "enrol":  # nobody waits for an enrolment link: no in-memory entry for it
            with self._lock:
                self._waiters[state_hash(state)] = _Waiter(actor)
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
        """Handle the vendor's answer; the page for the patient. A completed state answers its page again."""
        clinic = self.clinic()
        try:
            pending = self.states.consume(params.get("state"))
        except InvalidState as exc:
            again = self._completed_page(params.get("state", "")) if exc.reason == "used" else None
            if again is not None:
                return again
            log.warning("callback refused: %s", exc.message)
            waiter = self._waiter(params.get("state", ""))
            known = self.states.peek(params["state"]) if params.get("state") else None
            if waiter is not None and exc.reason == "used":
                # the same answer twice at once: the first one completes this consent and reports it
                # (never overwritten by this refusal); this one waits for it and shows how that ended
                if not waiter.event.is_set() and waiter.event.wait(self.http_timeout * 3):
                    again = self._completed_page(params.get("state", ""))
                    if again is not None:
                        return again
                return patient_pages.step_problem(clinic, "used", _purpose(known.purpose) if known else None)
            if waiter is not None and known is not None:
                why = self._voided_message(known) if exc.reason == "voided" else exc.message
                self._finish(waiter, ConnectOutcome(False, known.patient_code, known.vendor, why))
            purpose = _purpose(known.purpose) if known is not None else None
            if exc.reason == "voided":
                return patient_pages.link_problem(clinic, "void")
            reason: Literal["invalid", "used", "expired"] = (
                "used" if exc.reason == "used" else "expired" if exc.reason == "expired" else "invalid")
            return patient_pages.step_problem(clinic, reason, purpose)
        waiter = self._waiter(params.get("state", ""))
        label = self.vendors.label(pending.vendor)
        purpose = _purpose(pending.purpose)
        if params.get("error") or not params.get("code"):
            denied = params.get("error") == "access_denied"
            msg = (f"The patient declined to share {label} data; nothing was connected." if denied
                   else f"{label} did not complete the sign-in ({params.get('error') or 'no code'}); "
                        "nothing was connected.")
            self._finish(waiter, ConnectOutcome(False, pending.patient_code, pending.vendor, msg))
            if denied:
                return patient_pages.denied(clinic, label, purpose)
            return patient_pages.not_connected(clinic, pending.vendor, label, purpose, "unfinished")
        actor = waiter.actor if waiter else SYSTEM
        try:
            outcome = self._complete(pending, params["code"], actor)
        except LinkNoLongerValid as exc:
            log.warning("callback refused: the %s consent's patient changed since it started", pending.vendor)
            self._finish(waiter, ConnectOutcome(False, pending.patient_code, pending.vendor, exc.message))
            return patient_pages.link_problem(clinic, "void")
        except (OAuthError, VendorCallError, WearSyncError) as exc:
            log.warning("connecting a %s account failed: %s", pending.vendor, exc.message)
            if isinstance(exc, AccountLinkedElsewhere):  # the detail is for the coordinator, never the patient
                self.app.audit.record(actor, "connection.refused", f"{pending.patient_code}/{pending.vendor}",
                                      exc.message)
            self._finish(waiter, ConnectOutcome(False, pending.patient_code, pending.vendor, exc.message))
            return patient_pages.not_connected(clinic, pending.vendor, label, purpose, _failure_reason(exc))
        except Exception as exc:  # whoever waits must hear the end of it, not time out
            log.warning("connecting a %s account failed unexpectedly (%s)", pending.vendor, type(exc).__name__)
            self._finish(waiter, ConnectOutcome(False, pending.patient_code, pending.vendor,
                                                f"Connecting {label} failed unexpectedly; nothing was connected. "
                                                "Try again; see the log if it keeps failing."))
            return patient_pages.not_connected(clinic, pending.vendor, label, purpose, "failed")
        vendor = self.vendors.get(pending.vendor)
        page = patient_pages.connected(clinic, vendor.name, label, outcome.scopes_not_shared,
                                       {s: vendor.scope_label(s) for s in outcome.scopes_not_shared})
        if outcome.connection_id is not None and params.get("state"):  # kept before anyone hears of it
            self._keep(self._completed, state_hash(params["state"]), (self.clock.utcnow(), page, outcome.connection_id))
        self._finish(waiter, outcome)  # after the page is kept: a duplicate answer waiting on it shows it
        return page

    def answer_callback(self, params: dict[str, str]) -> str:
        """For the listener: handle the answer, keep its page, and send the browser to it (post/redirect/get)."""
        result_id = secrets.token_urlsafe(18)
        with self._served:  # before handling: whoever waits for this answer may stop the listener at once
            self._unserved.add(result_id)
        try:
            page = self.handle_callback(params)
        except BaseException:
            with self._served:
                self._unserved.discard(result_id)
            raise
        self._keep(self._results, result_id, (self.clock.utcnow(), page, state_hash(params.get("state") or "")))
        return RESULT_PREFIX + result_id

    def result_page(self, result_id: str) -> Page:
        with self._served:
            kept = self._results.get(result_id)
            self._unserved.discard(result_id)
            self._served.notify_all()
        if kept is None or kept[0] + RESULT_LIFETIME < self.clock.utcnow():
            return patient_pages.simple(self.clinic(), "gone")
        if kept[1].ok and self._completed_by_hash(kept[2]) is None:  # withdrawn since: no stale "connected"
            return patient_pages.simple(self.clinic(), "gone")
        return kept[1]

    def clinic(self) -> Clinic:
        return Clinic.from_settings(self.app.settings)

    def _completed_page(self, state: str) -> Page | None:
        """The success page of a state that completed here, while its connection still stands."""
        return self._completed_by_hash(state_hash(state)) if state else None

    def _completed_by_hash(self, key: str) -> Page | None:
        with self._lock:
            kept = self._completed.get(key)
        if kept is None or kept[0] + RESULT_LIFETIME < self.clock.utcnow():
            return None
        with self.db.session() as s:
            status = s.scalar(select(Connection.status).where(Connection.id == kept[2]))
        return kept[1] if status == "connected" else None

    def _keep(self, store: dict[str, Any], key: str, value: Any) -> None:
        with self._lock:
            store[key] = value
            while len(store) > RESULTS_KEPT:  # bounded: the oldest go first
                store.pop(next(iter(store)))

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
        conn_id, old_user = self._bound_connection(pending)
        # exchanged at once: a Withings code lives 30 seconds
        tokens = oauth.exchange_code(code, pending.redirect_uri, pending.verifier, now=self.clock.utcnow())
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
            conn = s.get(Connection, conn_id, with_for_update=True)
            if conn is None or conn.patient_id != pending.patient_id:
                raise LinkNoLongerValid(self._voided_message(pending))
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
                          .where(EnrolmentLink.patient_id == pending.patient_id,
                                 EnrolmentLink.vendor == vendor.name, EnrolmentLink.used_at.is_(None),
                                 EnrolmentLink.voided_at.is_(None))
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
        return ConnectOutcome(True, pending.patient_code, vendor.name, msg, missing_labels, account.timezone,
                              conn_id, tuple(account.scopes_missing))

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

    def _bound_patient(self, code: str, vendor: str, patient_id: int | None) -> int | None:
        """The live patient row named `code` (and `patient_id`, when given) holding a `vendor` device."""
        with self.db.session() as s:
            q = (select(Patient.id).join(Connection, Connection.patient_id == Patient.id)
                 .where(Patient.code == code, Patient.deleted_at.is_(None), Connection.vendor == vendor))
            if patient_id is not None:
                q = q.where(Patient.id == patient_id)
            found = s.scalar(q)
        return int(found) if found is not None else None

    def _bound_connection(self, pending: PendingState) -> tuple[int, str | None]:
        """The connection a pending consent was started for: the same patient row, still under the same
        ID, still holding that device type; LinkNoLongerValid otherwise (renamed, moved, deleted)."""
        if pending.patient_id is None or self._bound_patient(pending.patient_code, pending.vendor,
                                                             pending.patient_id) is None:
            raise LinkNoLongerValid(self._voided_message(pending))
        with self.db.session() as s:
            row = s.execute(select(Connection.id, Connection.vendor_user_id, Connection.status)
                            .where(Connection.patient_id == pending.patient_id,
                                   Connection.vendor == pending.vendor)).first()
        if row is None:
            raise LinkNoLongerValid(self._voided_message(pending))
        old = row.vendor_user_id if row.status in ("connected", "needs_reconsent", "error") else None
        return int(row.id), old

    def _voided_message(self, pending: PendingState) -> str:
        return (f"The {self.vendors.label(pending.vendor)} consent started for patient {pending.patient_code} no "
                "longer applies (that patient was renamed, moved, deleted or withdrew since); nothing was "
                "connected. Send a new link or connect again.")

    def _check_account(self, conn_id: int, vendor: str, old_user: str | None, new_user: str) -> None:
        label = self.vendors.label(vendor)
        if old_user and old_user != new_user:
            raise DifferentAccount(
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
            raise AccountLinkedElsewhere(
                f"This {label} account is already connected to patient {other}, so it was not saved. "
                "Each patient needs their own account."
            )

    # ------------------------------------------------------------------ enrolment links
    def create_enrolment_link(self, patient_code: str, vendor: str, actor: Actor,
                              hours: int | None = None) -> EnrolmentLinkInfo:
        """A link the patient opens on their own phone; valid `hours` (default: the setting)."""
        actor.require("connections.edit")
        if hours is not None and not 1 <= hours <= MAX_LINK_HOURS:
            raise InvalidInput(f"A link can be valid for 1 to {MAX_LINK_HOURS} hours (30 days), not {hours}.")
        v = self.vendors.get(vendor)
        v.credentials()  # say now, not on the patient's phone, that the client secrets are missing
        self.app.cipher.ensure_key()
        self.app.patients.ensure(patient_code, v.name, actor)
        code = self.app.patients.get(patient_code).code
        pid = self._bound_patient(code, v.name, None)
        with self.db.session() as s:
            conn = s.scalar(select(Connection).where(Connection.patient_id == pid, Connection.vendor == v.name))
            withdrawn = conn is not None and conn.status == "withdrawn"
        if withdrawn:
            raise InvalidInput(
                f"{code} withdrew their consent for {v.label}, so no enrolment link was made. If they have "
                "agreed to take part again, connect their account with them in person (Connect here).")
        token = secrets.token_urlsafe(24)
        hours = int(self.app.settings.get("enrol_link_hours")) if hours is None else hours
        now = self.clock.utcnow()
        expires = now + dt.timedelta(hours=hours)
        with self.db.session() as s:
            s.add(EnrolmentLink(token_hash=_sha(token), patient_code=code, vendor=v.name, patient_id=pid,
                                created_by=actor.username[:64], created_at=now, expires_at=expires))
        base = self.public_url().rstrip("/")
        self.app.audit.record(actor, "enrolment.create", f"{code}/{v.name}", f"expires {expires:%Y-%m-%d %H:%M} UTC")
        local = base.startswith(("http://127.", "http://localhost", "http://[::1]"))
        return EnrolmentLinkInfo(code, v.name, f"{base}/enrol/{token}", expires, not local)

    def enrolment_links(self, include_closed: bool = False) -> list[LinkRow]:
        """Enrolment links, newest first: the open ones (and, with `include_closed`, used, expired and
        cancelled ones too)."""
        now = self.clock.utcnow()
        out = []
        with self.db.session() as s:
            for link in s.scalars(select(EnrolmentLink).order_by(EnrolmentLink.created_at.desc())):
                state = ("used" if link.used_at is not None else "cancelled" if link.voided_at is not None
                         else "expired" if link.expires_at <= now else "open")
                if state == "open" or include_closed:
                    out.append(LinkRow(link.token_hash[:10], link.patient_code, link.vendor, link.created_by,
                                       link.created_at, link.expires_at, state))
        return out

    def revoke_enrolment_link(self, link_id: str, actor: Actor) -> LinkRow:
        """Cancel an open link (named by the id `enrolment_links()` shows): the patient can no longer use it."""
        actor.require("connections.edit")
        wanted = link_id.strip().lower()
        if len(wanted) < 6 or any(c not in "0123456789abcdef" for c in wanted):
            raise InvalidInput(f"{link_id!r} is not a link id. `main.py links list` shows them.")
        with self.db.session() as s:
            found = list(s.scalars(select(EnrolmentLink).where(EnrolmentLink.token_hash.startswith(wanted))))
            if not found:
                raise NotFound(f"There is no enrolment link {link_id!r}.")
            if len(found) > 1:
                raise InvalidInput(f"Several links start with {link_id!r}; give more of the id.")
            link = found[0]
            if link.used_at is not None or link.voided_at is not None:
                raise InvalidInput("That link was already used or cancelled; nothing changed.")
            link.voided_at = self.clock.utcnow()
            link.state_ciphertext = None
            row = LinkRow(link.token_hash[:10], link.patient_code, link.vendor, link.created_by, link.created_at,
                          link.expires_at, "cancelled")
        self.app.audit.record(actor, "enrolment.revoke", f"{row.patient_code}/{row.vendor}", f"link {row.id}")
        return row

    def enrolment_intro(self, token: str) -> Page:
        """What an enrolment link shows first: who asks, which data, why, how to stop. Uses nothing up."""
        try:
            link = self._usable_link(token)
        except EnrolmentLinkInvalid as exc:
            return exc.page
        v = self.vendors.get(link.vendor)
        return patient_pages.intro(self.clinic(), v.name, v.label, f"/enrol/{token}/continue")

    def open_enrolment(self, token: str) -> str:
        """The vendor consent URL behind an enrolment link (its pending state reused while still good)."""
        link = self._usable_link(token)
        self._count_opening(link.key, self.clock.utcnow())
        previous = self.app.cipher.decrypt_text(link.held) if link.held else None
        pending = self._start(link.patient_id, link.code, link.vendor, SYSTEM, "enrol", reuse=previous)
        if pending.state != previous:
            with self.db.session() as s:
                s.execute(update(EnrolmentLink).where(EnrolmentLink.token_hash == link.key)
                          .values(state_ciphertext=self.app.cipher.encrypt_text(pending.state)))
        return pending.authorize_url

    def _usable_link(self, token: str) -> _UsableLink:
        """The enrolment link if it can still be used; EnrolmentLinkInvalid with the patient's page if not."""
        now = self.clock.utcnow()
        clinic = self.clinic()
        key = _sha(token) if token else ""
        with self.db.session() as s:
            link = s.get(EnrolmentLink, key) if token else None
            if link is None:
                raise EnrolmentLinkInvalid("Unknown enrolment link.", patient_pages.link_problem(clinic, "unknown"))
            code, vendor, pid, held = link.patient_code, link.vendor, link.patient_id, link.state_ciphertext
            used, voided, expired = link.used_at is not None, link.voided_at is not None, link.expires_at <= now
        if used:
            if pid is not None and self._status(pid, vendor) == "connected":
                page = patient_pages.already_connected(clinic, self.vendors.label(vendor))
            else:
                page = patient_pages.link_problem(clinic, "used")
            raise EnrolmentLinkInvalid("This enrolment link was already used.", page)
        # bound to the patient's row: a rename, a move, a delete or a withdrawal (or a new patient under
        # the old ID) ends the link
        if voided or pid is None or self._bound_patient(code, vendor, pid) is None:
            raise EnrolmentLinkInvalid("This enrolment link was cancelled: its patient was renamed, moved, "
                                       "deleted or withdrawn.", patient_pages.link_problem(clinic, "void"))
        if expired:
            raise EnrolmentLinkInvalid("This enrolment link has expired.",
                                       patient_pages.link_problem(clinic, "expired"))
        return _UsableLink(key, code, vendor, pid, held)

    def _status(self, patient_id: int, vendor: str) -> str | None:
        with self.db.session() as s:
            return s.scalar(select(Connection.status).where(Connection.patient_id == patient_id,
                                                            Connection.vendor == vendor))

    def _count_opening(self, key: str, now: dt.datetime) -> None:
        """Rate limit per link, with the memory it uses bounded: old openings are forgotten."""
        since = now - LINK_OPEN_WINDOW
        with self._lock:
            for k in [k for k, times in self._link_opens.items() if not times or times[-1] <= since]:
                del self._link_opens[k]
            recent = [t for t in self._link_opens.get(key, []) if t > since]
            if len(recent) >= LINK_OPENS_PER_WINDOW:
                raise EnrolmentLinkInvalid("This enrolment link was opened too often in a short while.",
                                           patient_pages.link_problem(self.clinic(), "busy"))
            recent.append(now)
            self._link_opens[key] = recent

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
                    oauth.clock = self.clock.utcnow
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
        with self.db.session() as s:
            pid = s.scalar(select(Connection.patient_id).where(Connection.id == cid))
        if pid is not None:
            self.states.void_for(int(pid), v.name)
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


def _purpose(purpose: str) -> patient_pages.Purpose:
    return "enrol" if purpose == "enrol" else "connect"


def _failure_reason(exc: Exception) -> Literal["failed", "elsewhere", "different", "terms"]:
    """Which patient page a failed connection gets (the exception's own message is for the coordinator)."""
    if isinstance(exc, AccountLinkedElsewhere):
        return "elsewhere"
    if isinstance(exc, DifferentAccount):
        return "different"
    if isinstance(exc, TermsNotAccepted):
        return "terms"
    return "failed"
