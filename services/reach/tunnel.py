"""The ngrok tunnel that makes the OAuth callback listener and Grafana reachable from outside.

``TunnelService`` runs the ngrok agent through pyngrok: one http tunnel to the callback listener
(on the free plan's static domain when one is set, so redirect URIs never change) and, optionally,
one to Grafana (with basic auth and/or an IP allow-list). It remembers the agent and its public
URLs in ``<state_dir>/tunnel.json`` so that another process (``main.py tunnel status|stop``) can
see and end a tunnel it did not start, and so that a changed public address is noticed and the
coordinator is told which redirect URIs to register again.

``start()`` blocks for up to ``startup_timeout`` seconds: call it from a worker thread.
``on_event`` is called from whichever thread notices a change (the caller's, or pyngrok's log
monitor thread when the agent loses or regains its session).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from services.clock import Clock
from services.errors import WearSyncError
from services.log_redaction import redact_in_loggers
from services.reach.tunnel_portals import (
    VENDORS,
    PortalInstruction,
    redirect_uri,
    vendor_portal_instructions,
)

if TYPE_CHECKING:  # pyngrok (and PyYAML with it) is imported when the agent is first used, not at start
    from pyngrok import conf
    from pyngrok.exception import PyngrokError
    from pyngrok.log import NgrokLog
    from pyngrok.process import NgrokProcess

__all__ = [
    "NgrokAuthtokenMissingError",
    "NgrokAuthtokenRejectedError",
    "NgrokNotInstalledError",
    "PortalInstruction",
    "TunnelConfigError",
    "TunnelError",
    "TunnelNotRunningError",
    "TunnelService",
    "TunnelStartError",
    "TunnelState",
    "TunnelStatus",
    "vendor_portal_instructions",
]

logger = logging.getLogger(__name__)

TunnelState = Literal["down", "starting", "up", "reconnecting", "error"]
Owner = Literal["app", "cli"]

STATE_FILE = "tunnel.json"
AGENT_CONFIG_FILE = "ngrok.yml"
CALLBACK_TUNNEL = "wearsync-callback"
GRAFANA_TUNNEL = "wearsync-grafana"

_REDACTED_LOGGERS = (
    "pyngrok",
    "pyngrok.ngrok",
    "pyngrok.process",
    "pyngrok.process.ngrok",
    "pyngrok.installer",
    __name__,
)
# Agent log messages (ngrok's own words) that mean the session to ngrok's servers is lost / back.
_SESSION_LOST = ("failed to reconnect session", "session closing", "heartbeat timeout")
_SESSION_BACK = ("client session established",)

NOT_INSTALLED_MESSAGE = (
    "The ngrok program is not installed and could not be downloaded (no internet?). "
    "Set its path in Tunnel → Tunnel settings or WEARSYNC_NGROK_PATH."
)


# -- results and errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class TunnelStatus:
    state: TunnelState
    callback_url: str | None = None
    grafana_url: str | None = None
    message: str = ""
    #: True when this start gave a different public callback address than the last one (or the
    #: first one ever, ``previous_url`` None): the redirect URIs must be registered again.
    url_changed: bool = False
    previous_url: str | None = None
    #: The process that owns the agent: this one, or a ``main.py tunnel start`` keeper.
    pid: int | None = None


class TunnelError(WearSyncError):
    def __init__(self, message: str, *, title: str = "Tunnel", terminal_hint: str = "") -> None:
        super().__init__(message, title=title, terminal_hint=terminal_hint)


class TunnelConfigError(TunnelError):
    """A tunnel setting is invalid; the message says which and where to fix it."""


class NgrokNotInstalledError(TunnelError):
    """No ngrok agent binary to run."""


class NgrokAuthtokenMissingError(TunnelError):
    """No ngrok authtoken configured."""


class NgrokAuthtokenRejectedError(TunnelError):
    """ngrok's servers did not accept the authtoken."""


class TunnelStartError(TunnelError):
    """The agent started badly or refused a tunnel; the message gives ngrok's reason, redacted."""


class TunnelNotRunningError(TunnelError):
    """There is no public address yet."""


# -- the service --------------------------------------------------------------------------------


class TunnelService:
    def __init__(
        self,
        *,
        state_dir: Path,
        callback_port: int,
        ngrok_path: str | None = None,
        authtoken: str | None = None,
        domain: str | None = None,
        grafana_port: int | None = None,
        grafana_domain: str | None = None,
        basic_auth: str | None = None,
        allow_cidrs: Sequence[str] = (),
        on_event: Callable[[TunnelStatus], None] | None = None,
        grafana_signin: Callable[[], str | None] | None = None,
        owner: Owner = "app",
        startup_timeout: float = 15.0,
        request_timeout: float = 4.0,
        clock: Clock | None = None,
    ) -> None:
        self._state_dir = Path(state_dir)
        self._clock = clock or Clock.from_environ(os.environ)  # the app passes its own
        self._callback_port = _check_port(callback_port, "callback")
        self._grafana_port = None if grafana_port is None else _check_port(grafana_port, "Grafana")
        self._ngrok_path = ngrok_path or None
        self._authtoken = authtoken or None
        self._domain = _normalise_domain(domain) if domain else None
        self._grafana_domain = _normalise_domain(grafana_domain) if grafana_domain else None
        if self._grafana_domain and self._grafana_domain == self._domain:
            raise TunnelConfigError("The consent page and Grafana need two different static domains. "
                                    "Fix it in Tunnel → Tunnel settings.")
        self._basic_auth = _check_basic_auth(basic_auth) if basic_auth else None
        self._allow_cidrs = [_check_cidr(c) for c in allow_cidrs]
        self._on_event = on_event
        #: asked at each start when no basic_auth was given: "user:password" for Grafana, or None
        self._grafana_signin = grafana_signin
        self._owner: Owner = owner
        self._startup_timeout = startup_timeout
        self._request_timeout = request_timeout

        self._lock = threading.RLock()
        self._config: conf.PyngrokConfig | None = None
        self._agent: NgrokProcess | None = None
        self._urls: tuple[str | None, str | None] = (None, None)
        self._changed: tuple[bool, str | None] = (False, None)
        self._session_lost = False
        self._starting = False

        password = self._basic_auth.partition(":")[2] if self._basic_auth else None
        self._redactor = redact_in_loggers(_REDACTED_LOGGERS, self._authtoken, self._basic_auth, password)

    # -- public API ------------------------------------------------------------------------------

    def start(self) -> TunnelStatus:
        """Start the agent and its tunnels (blocking); return the running tunnel's status.

        If a tunnel is already running (here, or in another WearSync process) that one is returned,
        because the free plan allows a single agent session per account.
        """
        with self._lock:
            current = self.status()
            if current.state in ("up", "reconnecting"):
                return current
            self._starting = True
            try:
                path = self.preflight()
                self._ask_grafana_signin()
                self._emit(TunnelStatus("starting", message="Starting the tunnel…"))
                config = self._pyngrok_config(path)
                agent, callback_url, grafana_url = self._open_tunnels(config)
            except TunnelError as error:
                failure = {"pid": os.getpid(), "title": error.title, "message": error.message}
                self._update_record(last_error=failure)
                self._emit(TunnelStatus("error", message=error.message))
                raise
            finally:
                self._starting = False

            record = self._read_record()
            previous = record.get("last_callback_url")
            changed = previous != callback_url
            self._config, self._agent = config, agent
            self._urls = (callback_url, grafana_url)
            self._changed = (changed, previous)
            self._session_lost = False
            message = "The tunnel is up."
            if changed:
                message += (
                    " Your public address changed: register the new redirect URIs in each vendor portal."
                )
            self._write_record(
                {
                    "last_callback_url": callback_url,
                    "pid": os.getpid(),
                    "owner": self._owner,
                    "agent_pid": agent.proc.pid,
                    "api_url": agent.api_url,
                    "state": "up",
                    "callback_url": callback_url,
                    "grafana_url": grafana_url,
                    "url_changed": changed,
                    "previous_url": previous,
                    "message": message,
                    "last_error": None,
                }
            )
            status = TunnelStatus("up", callback_url, grafana_url, message, changed, previous, os.getpid())
            logger.info("Tunnel up: callback %s, grafana %s", callback_url, grafana_url or "not shared")
            self._emit(status)
            return status

    def _ask_grafana_signin(self) -> None:
        if self._basic_auth or self._grafana_signin is None or self._grafana_port is None:
            return
        value = self._grafana_signin()
        if value:
            self._basic_auth = _check_basic_auth(value)
            self._redactor = redact_in_loggers(_REDACTED_LOGGERS, value, value.partition(":")[2])

    def preflight(self) -> str:
        """Check what start() needs before anything runs; return the agent binary's path.

        Raises NgrokAuthtokenMissingError or NgrokNotInstalledError (after trying pyngrok's download
        when no path was configured).
        """
        if not self._authtoken:
            raise NgrokAuthtokenMissingError(
                "No ngrok authtoken is set. Copy yours from "
                "https://dashboard.ngrok.com/get-started/your-authtoken and paste it in "
                "Tunnel → Tunnel settings.",
                terminal_hint="From a terminal: main.py secrets set NGROK_AUTHTOKEN, or the environment "
                              "variable NGROK_AUTHTOKEN.",
            )
        return self._resolve_ngrok_path()

    def read_state(self) -> dict[str, Any]:
        """The raw contents of ``tunnel.json`` (owner pid, urls, ``last_error``), {} if none."""
        return self._read_record()

    def stop(self) -> None:
        """End the tunnel, whether this process or another WearSync process started it."""
        with self._lock:
            if self._config is not None:
                from pyngrok import ngrok

                ngrok.kill(self._config)
                self._forget_agent()
            else:
                record = self._read_record()
                if isinstance(record.get("pid"), int):
                    self._stop_recorded(record)
            self._clear_running_record()
            logger.info("Tunnel stopped")
            self._emit(TunnelStatus("down", message="The tunnel is stopped."))

    def status(self) -> TunnelStatus:
        """The tunnel as it is now, asked of the agent's local API (works across processes)."""
        if self._starting:  # start() holds the lock for seconds; answer without waiting for it
            return TunnelStatus("starting", message="Starting the tunnel…")
        with self._lock:
            if self._agent is not None:
                return self._own_status(self._agent)
            return self._recorded_status()

    def redirect_uris(self) -> dict[str, str]:
        """``<callback public url>/oauth2_callback`` for each vendor."""
        base = self.status().callback_url
        if base is None and self._domain:
            base = f"https://{self._domain}"
        if base is None:
            last = self._read_record().get("last_callback_url")
            base = last if isinstance(last, str) else None
        if base is None:
            raise TunnelNotRunningError(
                "The tunnel has not been started yet, so there is no public address to register. "
                "Start the tunnel first."
            )
        return {vendor: redirect_uri(base) for vendor in VENDORS}

    # -- starting --------------------------------------------------------------------------------

    def _resolve_ngrok_path(self) -> str:
        if self._ngrok_path:
            path = Path(self._ngrok_path).expanduser()
            if not path.is_file():
                raise NgrokNotInstalledError(
                    f"The ngrok program was not found at {path}. Check its path in Tunnel → Tunnel settings "
                    "or WEARSYNC_NGROK_PATH."
                )
            if not os.access(path, os.X_OK):
                raise NgrokNotInstalledError(
                    f"{path} is not a program this computer can run. Check the ngrok path in "
                    "Tunnel → Tunnel settings or WEARSYNC_NGROK_PATH."
                )
            return str(path)
        from pyngrok import conf, installer
        from pyngrok.exception import PyngrokError

        default = str(conf.DEFAULT_NGROK_PATH)  # where pyngrok keeps the agent it downloaded
        if os.path.isfile(default):
            return default
        try:
            installer.install_ngrok(default, ngrok_version="3")
        except (PyngrokError, OSError) as exc:
            logger.warning("Could not download the ngrok agent: %s", exc)
            raise NgrokNotInstalledError(NOT_INSTALLED_MESSAGE) from None
        if not os.path.isfile(default):
            raise NgrokNotInstalledError(NOT_INSTALLED_MESSAGE)
        return default

    def _pyngrok_config(self, ngrok_path: str) -> conf.PyngrokConfig:
        from pyngrok import conf

        config = conf.PyngrokConfig(
            ngrok_path=ngrok_path,
            config_path=str(self._state_dir / AGENT_CONFIG_FILE),
            log_event_callback=self._on_agent_log,
            monitor_thread=True,
            startup_timeout=max(1, round(self._startup_timeout)),
            request_timeout=self._request_timeout,
            config_version="2",  # v2 tunnels: ngrok's documented basic_auth / ip_restriction options
        )
        # The token travels in the agent's config file (owner-only), not on its command line
        # where any local user could read it; PyngrokConfig would otherwise pick NGROK_AUTHTOKEN
        # from the environment by itself.
        config.auth_token = None
        config.api_key = None
        return config

    def _open_tunnels(self, config: conf.PyngrokConfig) -> tuple[NgrokProcess, str, str | None]:
        from pyngrok import ngrok
        from pyngrok.exception import PyngrokError

        assert config.config_path is not None
        agent_config = Path(config.config_path)
        self._write_agent_config(agent_config)
        try:
            agent = ngrok.get_ngrok_process(config)
            callback = ngrok.connect(
                str(self._callback_port),
                "http",
                name=CALLBACK_TUNNEL,
                pyngrok_config=config,
                **self._callback_options(),
            )
            grafana = None
            if self._grafana_port is not None:
                grafana = ngrok.connect(
                    str(self._grafana_port),
                    "http",
                    name=GRAFANA_TUNNEL,
                    pyngrok_config=config,
                    **self._grafana_options(),
                )
        except PyngrokError as exc:
            ngrok.kill(config)
            raise self._translate(exc) from None
        finally:
            # The agent has read it; pyngrok re-reads it only when connecting.
            agent_config.unlink(missing_ok=True)
        if callback.public_url is None:  # pyngrok already refuses this; keeps mypy honest
            ngrok.kill(config)
            raise TunnelStartError("ngrok started but gave no public address. Try again.")
        return agent, callback.public_url, grafana.public_url if grafana else None

    def _write_agent_config(self, path: Path) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        # JSON is valid YAML, which is what the agent reads.
        data = {
            "version": "2",
            "authtoken": self._authtoken,
            "log_level": "info",
            "log_format": "term",
            "update_check": False,
            "console_ui": False,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)

    def _callback_options(self) -> dict[str, Any]:
        # inspect=False: the agent's local inspector would otherwise keep every callback URL,
        # authorization codes included.
        options: dict[str, Any] = {"inspect": False}
        if self._domain:
            options["domain"] = self._domain
        return options

    def _grafana_options(self) -> dict[str, Any]:
        # The free plan's one static domain goes to the callback; Grafana gets a random address
        # unless a second static domain is given for it.
        options: dict[str, Any] = {"inspect": False}
        if self._grafana_domain:
            options["domain"] = self._grafana_domain
        if self._basic_auth:
            options["basic_auth"] = [self._basic_auth]
        if self._allow_cidrs:
            options["ip_restriction"] = {"allow_cidrs": list(self._allow_cidrs)}
        return options

    def _translate(self, exc: PyngrokError) -> TunnelError:
        from pyngrok.exception import PyngrokNgrokError, PyngrokNgrokHTTPError

        detail = str(exc)
        if isinstance(exc, PyngrokNgrokError) and exc.ngrok_error:
            detail = exc.ngrok_error
        if isinstance(exc, PyngrokNgrokHTTPError):
            detail = _api_error_detail(exc.body) or detail
        detail = self._redactor.redact(detail)
        logger.warning("ngrok could not start the tunnel: %s", detail)
        short = " ".join(detail.replace("\\r\\n", " ").split())[:300]
        if any(code in detail for code in ("ERR_NGROK_105", "ERR_NGROK_107", "ERR_NGROK_4018")) or (
            "authentication failed" in detail
        ):
            return NgrokAuthtokenRejectedError(
                "ngrok did not accept the authtoken. Copy it again from "
                "https://dashboard.ngrok.com/get-started/your-authtoken and paste it in "
                "Tunnel → Tunnel settings."
            )
        if "ERR_NGROK_108" in detail:
            return TunnelStartError(
                "Your ngrok account already has a tunnel running, perhaps on another computer. The free "
                "plan allows one at a time: stop the other one and try again."
            )
        if "ERR_NGROK_334" in detail or "already online" in detail or "already bound" in detail:
            return TunnelStartError(
                f"The public address is already used by another ngrok tunnel ({short}). Stop the other "
                "tunnel and try again."
            )
        if self._domain and any(code in detail for code in ("ERR_NGROK_319", "ERR_NGROK_320")):
            return TunnelStartError(
                f"ngrok refused the address {self._domain}. Enter the static domain shown at "
                "https://dashboard.ngrok.com/domains in Tunnel → Tunnel settings (or WEARSYNC_NGROK_DOMAIN)."
            )
        return TunnelStartError(f"The tunnel could not start: {short}")

    # -- agent events ----------------------------------------------------------------------------

    def _on_agent_log(self, log: NgrokLog) -> None:
        # Called on pyngrok's reader/monitor thread for every agent line.
        message = log.msg or ""
        if any(text in message for text in _SESSION_LOST):
            lost = True
        elif any(text in message for text in _SESSION_BACK):
            lost = False
        else:
            return
        if self._agent is None or lost == self._session_lost:
            return  # still starting (start() reports that), or no change
        self._session_lost = lost
        callback_url, grafana_url = self._urls
        if lost:
            status = TunnelStatus(
                "reconnecting",
                callback_url,
                grafana_url,
                "The connection to ngrok was lost; reconnecting. The public addresses stop working "
                "until it is back.",
                pid=os.getpid(),
            )
        else:
            status = TunnelStatus("up", callback_url, grafana_url, "The tunnel is up again.", pid=os.getpid())
        logger.info("Tunnel %s", status.state)
        self._update_record(state=status.state, message=status.message)
        self._emit(status)

    def _emit(self, status: TunnelStatus) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(status)
        except Exception:
            logger.exception("A tunnel status listener failed")

    # -- status ----------------------------------------------------------------------------------

    def _own_status(self, agent: NgrokProcess) -> TunnelStatus:
        callback_url, grafana_url = self._urls
        if agent.proc.poll() is not None:
            self._forget_agent()
            self._clear_running_record()
            status = TunnelStatus(
                "down", message="The ngrok program stopped unexpectedly. Start the tunnel again."
            )
            self._emit(status)
            return status
        tunnels = self._list_tunnels(agent.api_url)
        if tunnels is None or CALLBACK_TUNNEL not in tunnels:
            return TunnelStatus(
                "error",
                callback_url,
                grafana_url,
                "ngrok is running but does not answer. Stop and start the tunnel.",
                pid=os.getpid(),
            )
        state: TunnelState = "reconnecting" if self._session_lost else "up"
        message = "Reconnecting to ngrok…" if self._session_lost else "The tunnel is up."
        changed, previous = self._changed
        return TunnelStatus(
            state,
            tunnels.get(CALLBACK_TUNNEL),
            tunnels.get(GRAFANA_TUNNEL),
            message,
            changed,
            previous,
            os.getpid(),
        )

    def _recorded_status(self) -> TunnelStatus:
        record = self._read_record()
        pid, api_url = record.get("pid"), record.get("api_url")
        if not isinstance(pid, int) or not isinstance(api_url, str):
            return TunnelStatus("down", message="The tunnel is not running.")
        tunnels = self._list_tunnels(api_url)
        if tunnels is None or CALLBACK_TUNNEL not in tunnels:
            if pid != os.getpid() and _pid_alive(pid) and _looks_like_wearsync(pid):
                return TunnelStatus(
                    "error",
                    message=(
                        f"The tunnel's process (pid {pid}) is running but ngrok does not answer. "
                        "Stop and start the tunnel."
                    ),
                    pid=pid,
                )
            self._clear_running_record()
            return TunnelStatus("down", message="The tunnel is not running.")
        state: TunnelState = "reconnecting" if record.get("state") == "reconnecting" else "up"
        previous = record.get("previous_url")
        return TunnelStatus(
            state,
            tunnels.get(CALLBACK_TUNNEL),
            tunnels.get(GRAFANA_TUNNEL),
            str(record.get("message") or ""),
            bool(record.get("url_changed")),
            previous if isinstance(previous, str) else None,
            pid,
        )

    def _list_tunnels(self, api_url: str | None) -> dict[str, str] | None:
        """Tunnel name → public URL from the agent's local API, or None if it does not answer."""
        if not api_url or not api_url.startswith(("http://127.0.0.1:", "http://localhost:")):
            return None
        try:
            with urllib.request.urlopen(f"{api_url}/api/tunnels", timeout=self._request_timeout) as resp:  # noqa: S310 - loopback http only, checked above
                data = json.loads(resp.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        tunnels = data.get("tunnels") if isinstance(data, dict) else None
        if not isinstance(tunnels, list):
            return None
        return {
            str(t.get("name")): str(t.get("public_url"))
            for t in tunnels
            if isinstance(t, dict) and t.get("public_url")
        }

    # -- stopping --------------------------------------------------------------------------------

    def _stop_recorded(self, record: dict[str, Any]) -> None:
        """Stop an agent this instance did not start: a keeper's, a window's, or another instance's."""
        pid = record["pid"]
        api_url = record.get("api_url")
        api_url = api_url if isinstance(api_url, str) else None
        agent_pid = record.get("agent_pid")
        answering = self._list_tunnels(api_url) is not None
        if pid != os.getpid() and record.get("owner") == "cli" and (answering or _looks_like_wearsync(pid)):
            # The keeper stops its agent and exits on SIGTERM.
            _terminate(pid, group=True)
        if isinstance(agent_pid, int) and self._list_tunnels(api_url) is not None:
            # A keeper killed hard, or an agent owned by a WearSync window (never signal the window).
            _terminate(agent_pid, group=False)

    def _forget_agent(self) -> None:
        self._config, self._agent = None, None
        self._urls = (None, None)
        self._session_lost = False

    # -- state file ------------------------------------------------------------------------------

    @property
    def _state_path(self) -> Path:
        return self._state_dir / STATE_FILE

    def _read_record(self) -> dict[str, Any]:
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_record(self, data: dict[str, Any]) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        data = {**data, "updated_at": self._clock.now().isoformat(timespec="seconds")}
        tmp = self._state_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self._state_path)

    def _update_record(self, **changes: Any) -> None:
        self._write_record({**self._read_record(), **changes})

    def _clear_running_record(self) -> None:
        record = self._read_record()
        if not record:
            return
        for key in ("pid", "owner", "agent_pid", "api_url", "callback_url", "grafana_url"):
            record.pop(key, None)
        record.update(state="down", message="The tunnel is stopped.", url_changed=False, previous_url=None)
        self._write_record(record)


# -- helpers ------------------------------------------------------------------------------------


def _check_port(port: int, what: str) -> int:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise TunnelConfigError(f"The {what} port must be a number from 1 to 65535, not {port!r}.")
    return port


def _normalise_domain(domain: str) -> str:
    value = domain.strip().lower().split("://", 1)[-1].split("/", 1)[0]
    if "." not in value or any(c.isspace() for c in value):
        raise TunnelConfigError(
            f"{domain!r} is not a domain like your-name.ngrok-free.app. Copy your static domain from "
            "https://dashboard.ngrok.com/domains into Tunnel → Tunnel settings (or WEARSYNC_NGROK_DOMAIN)."
        )
    return value


def _check_basic_auth(value: str) -> str:
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise TunnelConfigError(
            "The Grafana sign-in for the tunnel must be written as user:password. Fix it in "
            "Tunnel → Tunnel settings."
        )
    if not 8 <= len(password) <= 128:
        raise TunnelConfigError(
            "The Grafana password for the tunnel must be 8 to 128 characters long (ngrok's rule). "
            "Change it in Tunnel → Tunnel settings."
        )
    return value


def _check_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise TunnelConfigError(
            f"{value!r} is not an address range like 203.0.113.0/24. Fix the allowed addresses in "
            "Tunnel → Tunnel settings."
        ) from None


def _api_error_detail(body: str | None) -> str | None:
    try:
        data = json.loads(body or "")
    except ValueError:
        return body
    if isinstance(data, dict):
        details = data.get("details")
        if isinstance(details, dict) and details.get("err"):
            return str(details["err"])
        if data.get("msg"):
            return str(data["msg"])
    return body


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # no cheap, safe check without psutil; the agent API decides instead
        return True
    with contextlib.suppress(ChildProcessError, OSError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)  # our own child (tests, or start in-process)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is as good as gone
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _looks_like_wearsync(pid: int) -> bool:
    """Guards against a recycled pid after a reboot: only signal a process that is plausibly ours."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return os.name == "nt" or not Path("/proc/self").exists()  # no /proc: trust the record
    return b"tunnel" in cmdline or b"ngrok" in cmdline


def _terminate(pid: int, *, group: bool, timeout: float = 5.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL (the whole session group when ``group``)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    logger.warning("Process %s did not stop in %.0f s; killing it", pid, timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if group and os.name == "posix" and os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
