"""The app's tunnel: its options (settings + secrets), the TunnelService built from them, and the
app's public address following the tunnel.

One place, so that the window (gui/tunnel_controller.py), the tray and `main.py --headless` start
the same tunnel from the same options, and so that enrolment links and redirect URIs use the
tunnel's public address whenever it is up (`app.connections.public_url`).

Options live in Settings (start_tunnel_with_app, ngrok_domain, grafana_domain, ngrok_path,
grafana_tunnel_user, grafana_tunnel_allow, grafana_tunnel_open) and in the keyring (NGROK_AUTHTOKEN,
GRAFANA_TUNNEL_PASSWORD). WEARSYNC_NGROK_PATH, WEARSYNC_NGROK_DOMAIN, WEARSYNC_GRAFANA_DOMAIN and
WEARSYNC_GRAFANA_PORT in the environment win over the settings. `main.py tunnel start` builds its
tunnel here too, so the window, `--headless` and the command line use exactly the same options.

Grafana through the tunnel is protected by default: unless an address list is set or protection was
turned off on purpose, a sign-in is made the first time a tunnel is built (user `wearsync`, a
generated password the coordinator is shown once; Settings → Secrets keeps it).
"""

from __future__ import annotations

import logging
import secrets as pysecrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from services import config
from services.accounts.actor import SYSTEM, Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.errors import InvalidInput, WearSyncError
from services.reach.tunnel import TunnelConfigError, TunnelService, TunnelStatus
from services.secrets import SecretStore
from services.settings import Settings, parse_cidrs


class _PublicUrlUser(Protocol):
    public_url: Callable[[], str]


class TunnelHost(Protocol):
    """What the tunnel set-up needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def paths(self) -> config.Paths: ...
    @property
    def environ(self) -> Mapping[str, str]: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def connections(self) -> _PublicUrlUser: ...

    def add_background(self, start: Callable[[], None], stop: Callable[[], None]) -> None: ...

log = logging.getLogger(__name__)

PASSWORD_SECRET = "GRAFANA_TUNNEL_PASSWORD"
AUTHTOKEN_SECRET = "NGROK_AUTHTOKEN"
PATH_ENV = "WEARSYNC_NGROK_PATH"
DOMAIN_ENV = "WEARSYNC_NGROK_DOMAIN"
GRAFANA_DOMAIN_ENV = "WEARSYNC_GRAFANA_DOMAIN"
GRAFANA_PORT_ENV = "WEARSYNC_GRAFANA_PORT"
LEGACY_URL_SECRET = "DATAPLATFORM_URL"
DEFAULT_GRAFANA_USER = "wearsync"
OPEN_NOTICE = ("Grafana's protection through the tunnel is turned off: anyone who has its address reaches "
               "Grafana's sign-in page. Turn it back on in Tunnel → Tunnel settings.")


@dataclass(frozen=True)
class TunnelOptions:
    start_with_app: bool
    domain: str
    ngrok_path: str
    grafana_user: str
    allow_cidrs: tuple[str, ...]
    has_grafana_password: bool
    has_authtoken: bool
    #: settings the environment overrides, e.g. {"ngrok_path": "WEARSYNC_NGROK_PATH"}
    overridden: tuple[tuple[str, str], ...] = ()
    grafana_domain: str = ""
    #: protection turned off on purpose: no sign-in and no address list for Grafana
    grafana_open: bool = False

    @property
    def protection_notice(self) -> str:
        """One sentence for the window when Grafana is reachable without protection, else ""."""
        return OPEN_NOTICE if self.grafana_open else ""


def load_options(app: TunnelHost) -> TunnelOptions:
    s, env = app.settings, app.environ
    overridden = tuple((key, var) for key, var in (("ngrok_path", PATH_ENV), ("ngrok_domain", DOMAIN_ENV),
                                                    ("grafana_domain", GRAFANA_DOMAIN_ENV))
                       if env.get(var))
    return TunnelOptions(
        start_with_app=bool(s.get("start_tunnel_with_app")),
        domain=str(s.get("ngrok_domain") or ""),
        ngrok_path=str(s.get("ngrok_path") or ""),
        grafana_user=str(s.get("grafana_tunnel_user") or ""),
        allow_cidrs=parse_cidrs(s.get("grafana_tunnel_allow")),
        has_grafana_password=bool(app.secrets.get(PASSWORD_SECRET)),
        has_authtoken=bool(app.secrets.get(AUTHTOKEN_SECRET)),
        overridden=overridden,
        grafana_domain=str(s.get("grafana_domain") or ""),
        grafana_open=bool(s.get("grafana_tunnel_open")),
    )


def save_options(
    app: TunnelHost,
    *,
    start_with_app: bool,
    domain: str,
    ngrok_path: str,
    grafana_user: str,
    allow_cidrs: str,
    grafana_password: str | None = None,
    authtoken: str | None = None,
    actor: Actor | None = None,
    grafana_domain: str | None = None,
    grafana_open: bool | None = None,
) -> TunnelOptions:
    """Check every value first, then store them; bad input raises InvalidInput and changes nothing.

    `grafana_password` / `authtoken`: None keeps the stored one, "" removes it; `grafana_domain` /
    `grafana_open`: None keeps the stored value.
    The new options apply at the next start of the tunnel. `actor`: the person saving them (their role
    must control the tunnel; the changes are audited); None for internal callers."""
    if actor is not None:
        actor.require("tunnel")
    domain = domain.strip()
    grafana_user = grafana_user.strip()
    ngrok_path = ngrok_path.strip()
    cidrs = parse_cidrs(allow_cidrs)
    grafana_domain = (str(app.settings.get("grafana_domain") or "") if grafana_domain is None
                      else grafana_domain.strip())
    has_password = bool(app.secrets.get(PASSWORD_SECRET)) if grafana_password is None else bool(grafana_password)
    # TunnelService checks domain, port, basic auth and ranges exactly as start() will use them
    try:
        TunnelService(state_dir=app.paths.home, callback_port=config.callback_port(app.environ),
                      domain=domain or None, grafana_domain=grafana_domain or None, allow_cidrs=cidrs,
                      clock=app.clock,
                      basic_auth=f"{grafana_user}:{grafana_password}" if grafana_user and grafana_password else None)
    except TunnelConfigError as exc:
        raise InvalidInput(exc.message.replace("Fix it in Tunnel → Tunnel settings.", "").strip(),
                           title="Tunnel settings") from None
    if grafana_user and not has_password:
        raise InvalidInput("Enter a password for the Grafana sign-in user too (8 to 128 characters), or clear "
                           "the user to open Grafana through the tunnel without a sign-in.", title="Tunnel settings")
    if grafana_password and not grafana_user:
        raise InvalidInput("Enter the Grafana sign-in user name that goes with the password.",
                           title="Tunnel settings")
    s = app.settings
    s.set("start_tunnel_with_app", bool(start_with_app), actor=actor)
    s.set("ngrok_domain", domain, actor=actor)
    s.set("ngrok_path", ngrok_path, actor=actor)
    s.set("grafana_tunnel_user", grafana_user, actor=actor)
    s.set("grafana_tunnel_allow", ", ".join(cidrs), actor=actor)
    s.set("grafana_domain", grafana_domain, actor=actor)
    if grafana_open is not None:
        s.set("grafana_tunnel_open", bool(grafana_open), actor=actor)
    if grafana_password is not None:
        _store(app, PASSWORD_SECRET, grafana_password, actor)
    if authtoken is not None:
        _store(app, AUTHTOKEN_SECRET, authtoken.strip(), actor)
    return load_options(app)


def _store(app: TunnelHost, name: str, value: str, actor: Actor | None = None) -> None:
    if actor is not None:  # a person: role check and audit entry (services/secret_admin.py)
        from services.secret_admin import delete_secret, set_secret

        if value:
            set_secret(app, actor, name, value)
        else:
            delete_secret(app, actor, name)
    elif value:
        app.secrets.set(name, value)
    else:
        app.secrets.delete(name)


def start_tunnel(app: TunnelHost, service: TunnelService, actor: Actor) -> TunnelStatus:
    """A person starts the tunnel (window or tray): refused unless their role controls the tunnel;
    recorded in the audit trail with the public address it got."""
    actor.require("tunnel")
    status = service.start()
    app.audit.record(actor, "tunnel.started", status.callback_url or "", status.state)
    return status


def stop_tunnel(app: TunnelHost, service: TunnelService, actor: Actor) -> None:
    """A person stops the tunnel: the same check, and recorded."""
    actor.require("tunnel")
    service.stop()
    app.audit.record(actor, "tunnel.stopped")


def ensure_grafana_protection(app: TunnelHost, on_new_password: Callable[[str, str], None] | None = None,
                              ) -> tuple[str, str] | None:
    """Grafana through the tunnel is protected unless that was turned off on purpose: with no address
    list and no complete sign-in, make one (user `wearsync` unless a user is set, a generated password),
    keep it, and hand it to `on_new_password(user, password)` once so the coordinator can see it.
    Returns the sign-in to use (None: an address list protects it, or protection is off)."""
    s = app.settings
    user = str(s.get("grafana_tunnel_user") or "").strip()
    password = app.secrets.get(PASSWORD_SECRET) if user else None
    if user and password:
        return user, password
    if s.get("grafana_tunnel_open") or parse_cidrs(s.get("grafana_tunnel_allow")):
        return None
    user = user or DEFAULT_GRAFANA_USER
    password = pysecrets.token_urlsafe(18)
    if app.environ.get("WEARSYNC_SANDBOX") != "1":  # the sandbox never writes to the keyring: this run only
        app.secrets.set(PASSWORD_SECRET, password)
        s.set("grafana_tunnel_user", user)
        app.audit.record(SYSTEM, "tunnel.grafana_signin", user, "made, as no protection was set")
    log.info("a sign-in was made for Grafana through the tunnel (user %s); its password is kept as %s", user,
             PASSWORD_SECRET)
    if on_new_password is not None:
        on_new_password(user, password)
    return user, password


def build_tunnel(app: TunnelHost, on_event: Callable[[TunnelStatus], None] | None = None,
                 on_new_password: Callable[[str, str], None] | None = None, **kwargs: object) -> TunnelService:
    """A TunnelService from the current options (reads the keyring: call off the UI thread). The one
    way the window, `--headless` and `main.py tunnel` build their tunnel."""
    s, env = app.settings, app.environ
    grafana_port = grafana_port_of(app)
    user = str(s.get("grafana_tunnel_user") or "").strip()
    password = app.secrets.get(PASSWORD_SECRET) if user else None

    def signin_at_start() -> str | None:  # made when the tunnel starts, not when its status is asked
        made = ensure_grafana_protection(app, on_new_password)
        if made is None and s.get("grafana_tunnel_open"):
            log.warning("Grafana's protection through the tunnel is turned off")
        return f"{made[0]}:{made[1]}" if made else None

    return TunnelService(
        state_dir=app.paths.home,  # the same tunnel.json as `main.py tunnel ...`
        callback_port=config.callback_port(env),
        ngrok_path=env.get(PATH_ENV) or s.get("ngrok_path") or None,
        authtoken=app.secrets.get(AUTHTOKEN_SECRET),
        domain=env.get(DOMAIN_ENV) or s.get("ngrok_domain") or None,
        grafana_port=grafana_port,
        grafana_domain=env.get(GRAFANA_DOMAIN_ENV) or s.get("grafana_domain") or None,
        basic_auth=f"{user}:{password}" if user and password else None,
        allow_cidrs=parse_cidrs(s.get("grafana_tunnel_allow")),
        on_event=on_event,
        grafana_signin=signin_at_start,
        clock=app.clock,
        **kwargs,  # type: ignore[arg-type]
    )


def grafana_port_of(app: TunnelHost) -> int | None:
    raw = app.environ.get(GRAFANA_PORT_ENV, "").strip()
    if not raw:
        return int(app.settings.get("grafana_port")) or None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{GRAFANA_PORT_ENV} must be a port number such as 3000, not {raw!r}.") from None


class PublicAddress:
    """`app.connections.public_url` while a tunnel is known: its public address when it is up,
    otherwise what WEARSYNC_PUBLIC_URL / the local callback port give. Thread-safe: read by the
    callback listener and the sync workers, written from tunnel events (never the UI thread).

    A new tunnel address is also kept as DATAPLATFORM_URL, the seed's name for the public address,
    which the old scripts still read."""

    def __init__(self, app: TunnelHost) -> None:
        self._environ = app.environ
        self._secrets = app.secrets
        self._live: str | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            live = self._live
        return live or config.public_base_url(self._environ)

    @property
    def live(self) -> str | None:
        with self._lock:
            return self._live

    def update(self, status: TunnelStatus) -> None:
        with self._lock:
            before = self._live
            if status.state in ("up", "reconnecting") and status.callback_url:
                self._live = status.callback_url.rstrip("/")
            elif status.state in ("down", "error"):
                self._live = None
            new = self._live if self._live != before else None
        if new:
            self._remember(new)

    def _remember(self, url: str) -> None:
        try:
            if self._secrets.get(LEGACY_URL_SECRET) != url:
                self._secrets.set(LEGACY_URL_SECRET, url)
        except WearSyncError as exc:  # a locked keyring must not break the tunnel
            log.warning("could not store the public address as %s: %s", LEGACY_URL_SECRET, exc.message)


def follow_tunnel(app: TunnelHost) -> PublicAddress:
    """Make the app's redirect URIs and enrolment links use the tunnel's address (idempotent)."""
    current = app.connections.public_url
    if isinstance(current, PublicAddress):
        return current
    address = PublicAddress(app)
    app.connections.public_url = address
    return address


def attach_tunnel(app: TunnelHost) -> None:
    """For `--headless`: when "Start the tunnel when WearSync starts" is on, start it with the
    background services (on its own thread: start() blocks for seconds) and stop it with them.
    A tunnel that cannot start is logged and does not stop the rest of WearSync."""
    keeper = _HeadlessTunnel(app)
    app.add_background(keeper.start, keeper.stop)


class _HeadlessTunnel:
    def __init__(self, app: TunnelHost) -> None:
        self.app = app
        self.service: TunnelService | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.app.settings.get("start_tunnel_with_app"):
            return
        self.thread = threading.Thread(target=self._run, args=(follow_tunnel(self.app),),
                                       name="wearsync-tunnel-start", daemon=True)
        self.thread.start()

    def _run(self, address: PublicAddress) -> None:
        try:
            self.service = build_tunnel(self.app, on_event=address.update)
            status = self.service.start()
            address.update(status)
            log.info("tunnel started with WearSync: %s", status.callback_url)
        except WearSyncError as exc:
            log.error("the tunnel did not start: %s", exc.message)

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=30)
        if self.service is not None:
            self.service.stop()
