"""``main.py tunnel start|stop|status|run``: the tunnel from the command line.

The CLI process exits, but the tunnel must outlive it: ``start`` launches a detached keeper
(``tunnel run``, which is also what a systemd unit would run in the foreground), waits until the
keeper reports the tunnel up or failed in ``tunnel.json``, prints the addresses and exits. The
keeper owns the ngrok agent through pyngrok and stops it on SIGTERM, which is what ``stop`` sends.

``start`` and the keeper build their tunnel with services/reach/tunnel_setup.build_tunnel, the same
code the window and ``--headless`` use: the tunnel settings saved in the window (auth token, static
domains, the ngrok program, Grafana's sign-in or address list), with the environment variables
(NGROK_AUTHTOKEN, WEARSYNC_NGROK_PATH, WEARSYNC_NGROK_DOMAIN, WEARSYNC_GRAFANA_DOMAIN,
WEARSYNC_CALLBACK_PORT, WEARSYNC_GRAFANA_PORT) winning as they do there.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from services.errors import WearSyncError

if TYPE_CHECKING:  # loaded by the actions that use it: `main.py --help` does not start pyngrok
    from services.reach.tunnel import TunnelService, TunnelStatus

STARTUP_TIMEOUT = 20.0
LOG_FILE = "tunnel.log"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tunnel`` subcommand; its parsed args carry ``handler(args) -> exit code``."""
    parser = subparsers.add_parser(
        "tunnel",
        help="start, stop or check the ngrok tunnel",
        description="Make the OAuth callback listener and Grafana reachable from outside through ngrok.",
    )
    actions = parser.add_subparsers(dest="tunnel_action", required=True,
                                    metavar="{start,stop,status,configure}")
    actions.add_parser("start", help="start the tunnel in the background and print its public addresses")
    actions.add_parser("stop", help="stop the tunnel")
    actions.add_parser("status", help="show whether the tunnel is up and its public addresses")
    actions.add_parser("run", help="run the tunnel in the foreground until stopped (service managers)")
    conf = actions.add_parser(
        "configure", help="the tunnel settings of the Tunnel page: token, static domains, Grafana protection",
        description="Change the tunnel settings the window's Tunnel page saves, which `tunnel start`, "
        "--headless and the window all use; they apply at the next start. Secrets are read from standard "
        "input, never from the command line: with both --authtoken-stdin and --grafana-auth, the first line "
        "is the ngrok token and the second Grafana's password.")
    conf.add_argument("--authtoken-stdin", action="store_true", help="read the ngrok auth token from standard input")
    conf.add_argument("--domain", metavar="D", help="the static domain for the consent pages ('' to clear)")
    conf.add_argument("--grafana-domain", metavar="D", help="a second static domain for Grafana ('' to clear)")
    conf.add_argument("--ngrok-path", metavar="PATH", help="an installed ngrok program ('' for the bundled one)")
    conf.add_argument("--start-with-app", choices=("yes", "no"), help="start the tunnel when WearSync starts")
    guard = conf.add_mutually_exclusive_group()
    guard.add_argument("--grafana-auth", metavar="USER",
                       help="Grafana through the tunnel asks for USER and a password (read from standard input)")
    guard.add_argument("--grafana-allow", metavar="CIDR", action="append",
                       help="only these address ranges reach Grafana; repeat for several")
    guard.add_argument("--grafana-open", action="store_true",
                       help="no protection before Grafana's own sign-in (not recommended)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    action = args.tunnel_action
    try:
        if action == "start":
            return _start(env, sys.stdout)
        if action == "stop":
            return _stop(env, sys.stdout)
        if action == "status":
            return _status(env, sys.stdout)
        if action == "configure":
            return _configure(args, sys.stdout)
        return _run(env, sys.stdout)
    except WearSyncError as error:
        hint = error.terminal_hint
        _fail(error.message + (f" {hint}" if hint and hint not in error.message else ""))
        return 1


# -- configuration ------------------------------------------------------------------------------


def _stdin_lines(names: list[str]) -> list[str]:
    """One secret per name: typed at hidden prompts, or one line each from standard input."""
    count = len(names)
    if count == 0:
        return []
    import getpass

    if sys.stdin is not None and sys.stdin.isatty():
        return [getpass.getpass(f"{name} (typing is not shown): ") for name in names]
    lines = (sys.stdin.read() if sys.stdin is not None else "").splitlines()
    if len(lines) < count or not all(x.strip() for x in lines[:count]):
        from services.errors import InvalidInput

        raise InvalidInput("Nothing was changed: give the secret on standard input "
                           "(e.g. printf '%s\\n' VALUE | main.py tunnel configure ...)." if count == 1 else
                           "Nothing was changed: give the ngrok token on the first line of standard input and "
                           "Grafana's password on the second.")
    return [x.strip() for x in lines[:count]]


def _configure(args: argparse.Namespace, out: TextIO) -> int:
    """The Tunnel page's Save, from a terminal: the same checks (services/reach/tunnel_setup.save_options)."""
    from services.accounts.actor import HOST
    from services.cli.common import opened_app
    from services.reach import tunnel_setup

    names = ["ngrok auth token"] * bool(args.authtoken_stdin) + ["Grafana password"] * bool(args.grafana_auth)
    secrets = iter(_stdin_lines(names))
    authtoken = next(secrets) if args.authtoken_stdin else None
    password = next(secrets) if args.grafana_auth else None
    with opened_app() as app:
        o = tunnel_setup.load_options(app)
        user, allow, open_, pw = o.grafana_user, ", ".join(o.allow_cidrs), None, password
        if args.grafana_auth:
            user, allow, open_ = args.grafana_auth, "", False
        elif args.grafana_allow:
            user, allow, open_, pw = "", ", ".join(args.grafana_allow), False, ""
        elif args.grafana_open:
            user, allow, open_, pw = "", "", True, ""
        new = tunnel_setup.save_options(
            app, actor=HOST,
            start_with_app=o.start_with_app if args.start_with_app is None else args.start_with_app == "yes",
            domain=o.domain if args.domain is None else args.domain,
            ngrok_path=o.ngrok_path if args.ngrok_path is None else args.ngrok_path,
            grafana_user=user, allow_cidrs=allow, grafana_password=pw, authtoken=authtoken,
            grafana_domain=args.grafana_domain, grafana_open=open_)
    guard = (f"sign-in as {new.grafana_user}" if new.grafana_user else
             f"only from {', '.join(new.allow_cidrs)}" if new.allow_cidrs else
             "open to anyone (not recommended)" if new.grafana_open else "a sign-in made at the next start")
    print("Tunnel settings saved; they apply at the next start.", file=out)
    print(f"  ngrok token: {'stored' if new.has_authtoken else 'not set'}", file=out)
    print(f"  static domain: {new.domain or 'none (a new address at every start)'}", file=out)
    print(f"  Grafana's domain: {new.grafana_domain or 'none'}; Grafana: {guard}", file=out)
    print(f"  start with WearSync: {'yes' if new.start_with_app else 'no'}", file=out)
    for key, var in new.overridden:
        print(f"  note: the environment variable {var} overrides {key}", file=out)
    return 0


def state_dir_from_env(env: Mapping[str, str]) -> Path:
    from services import config

    return config.paths(env).home  # where the window and --headless keep tunnel.json


def service_from_env(env: Mapping[str, str], out: TextIO | None = None, **kwargs: Any) -> TunnelService:
    """The tunnel exactly as the window and `--headless` build it (tunnel_setup.build_tunnel). A sign-in
    made for Grafana now is printed once to `out`."""
    from services.app import WearSync
    from services.reach.tunnel_setup import OPEN_NOTICE, build_tunnel, ensure_grafana_protection, grafana_port_of

    def shown_once(user: str, password: str) -> None:
        if out is not None:
            print(f"Grafana through the tunnel now asks for a sign-in: user {user}, password {password} "
                  "(shown once; Settings → Secrets keeps it, Tunnel settings can change it).", file=out)

    app = WearSync.open(dict(env))
    try:
        if out is not None and grafana_port_of(app):
            # here, not in the detached keeper: the person who typed `tunnel start` sees a new sign-in
            ensure_grafana_protection(app, shown_once)
            if app.settings.get("grafana_tunnel_open"):
                print(OPEN_NOTICE, file=out)
        return build_tunnel(app, on_new_password=shown_once, **kwargs)
    finally:
        app.close()


def _watcher(env: Mapping[str, str]) -> TunnelService:
    """For status and stop, which only read tunnel.json and the agent: no settings, no sign-in made."""
    from services import config
    from services.reach.tunnel import TunnelService

    return TunnelService(state_dir=state_dir_from_env(env), callback_port=config.callback_port(env))


# -- actions ------------------------------------------------------------------------------------


def _start(env: Mapping[str, str], out: TextIO) -> int:
    current = _watcher(env).status()
    if current.state in ("up", "reconnecting"):
        _print_status(current, out)
        return 0
    service = service_from_env(env, out)
    service.preflight()  # a missing token: main.py adds the terminal's way (secrets set / the variable)

    state_dir = state_dir_from_env(env)
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / LOG_FILE
    # The keeper logs to a file through the redacting loggers. Its raw stdout/stderr, which the
    # agent inherits and where ngrok prints a rejected authtoken back, go nowhere.
    keeper = subprocess.Popen(
        [*_keeper_command(), "run"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_keeper_env(env),
        cwd=None if getattr(sys, "frozen", False) else _PROJECT_ROOT,
        **_detached(),
    )

    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        record = service.read_state()
        if record.get("pid") == keeper.pid and record.get("state") in ("up", "reconnecting"):
            _print_status(service.status(), out)
            return 0
        failure = record.get("last_error")
        if isinstance(failure, dict) and failure.get("pid") == keeper.pid:
            keeper.wait(timeout=10)
            _fail(str(failure.get("message") or "The tunnel could not start."))
            return 1
        if keeper.poll() is not None:
            _fail(f"The tunnel stopped while starting (exit status {keeper.returncode}); see {log_path}.")
            return 1
        time.sleep(0.1)
    keeper.terminate()
    try:
        keeper.wait(timeout=10)
    except subprocess.TimeoutExpired:
        keeper.kill()
        keeper.wait(timeout=5)
    _fail(f"The tunnel did not start within {STARTUP_TIMEOUT:.0f} seconds; see {log_path}.")
    return 1


def _stop(env: Mapping[str, str], out: TextIO) -> int:
    service = _watcher(env)
    was = service.status()
    service.stop()
    print("Tunnel stopped." if was.state != "down" else "The tunnel was not running.", file=out)
    return 0


def _status(env: Mapping[str, str], out: TextIO) -> int:
    status = _watcher(env).status()
    _print_status(status, out, notice=False)
    if status.state in ("up", "reconnecting"):
        return 0
    _fail(status.message or f"The tunnel is {status.state}.")
    return 1


def _run(env: Mapping[str, str], out: TextIO) -> int:
    """The keeper: own the agent until SIGTERM/SIGINT, or until the agent dies."""
    root = logging.getLogger()
    if not root.handlers:  # run on its own (not from an app that set up logging already)
        state_dir = state_dir_from_env(env)
        state_dir.mkdir(parents=True, exist_ok=True)
        from logging.handlers import RotatingFileHandler

        handler = RotatingFileHandler(
            state_dir / LOG_FILE, maxBytes=1_000_000, backupCount=2, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    stopping = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stopping.set()

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_signal)

    service = service_from_env(env, owner="cli")
    try:
        status = service.start()
    except WearSyncError as error:
        logger.error("Tunnel not started: %s", error.message)
        raise
    if status.pid != os.getpid():
        print(f"The tunnel is already running (process {status.pid}).", file=out)
        return 0
    _print_status(status, out)
    out.flush()
    try:
        while not stopping.wait(1.0):
            if service.status().state == "down":
                logger.error("The ngrok program stopped unexpectedly; the keeper exits")
                return 1
    finally:
        service.stop()
    return 0


# -- helpers ------------------------------------------------------------------------------------


def _print_status(status: TunnelStatus, out: TextIO, *, notice: bool = True) -> None:
    from services.reach.tunnel import vendor_portal_instructions

    print(f"Tunnel: {status.state}", file=out)
    if status.callback_url:
        print(f"Callback address: {status.callback_url}", file=out)
        print(f"Grafana address: {status.grafana_url or 'not shared'}", file=out)
    if notice and status.url_changed and status.callback_url:
        if status.previous_url:
            print(f"Your public address changed (it was {status.previous_url}).", file=out)
        print("Register these redirect URIs in each vendor portal:", file=out)
        for step in vendor_portal_instructions(status.callback_url):
            print(f"  {step.vendor}: {step.redirect_uri}  ({step.portal_name}: {step.portal_link})", file=out)


def _fail(reason: str) -> None:
    print("wearsync: " + " ".join(reason.split()), file=sys.stderr)


def _keeper_command() -> list[str]:
    if getattr(sys, "frozen", False):  # a PyInstaller build: the app binary takes the subcommand
        return [sys.executable, "tunnel"]
    return [sys.executable, "-m", "services.cli.tunnel"]


def _keeper_env(env: Mapping[str, str]) -> dict[str, str]:
    child = dict(env)
    if not getattr(sys, "frozen", False):
        paths = [str(_PROJECT_ROOT), *filter(None, [child.get("PYTHONPATH")])]
        child["PYTHONPATH"] = os.pathsep.join(paths)
    return child


def _detached() -> dict[str, Any]:
    if os.name == "nt":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS  # type: ignore[attr-defined,unused-ignore]
        return {"creationflags": flags}
    # Its own session: the terminal's Ctrl-C and hang-up do not reach it, and stop can end the
    # keeper and its agent together as one process group.
    return {"start_new_session": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wearsync")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["tunnel", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
