"""A stand-in for the ngrok v3 agent, speaking what pyngrok expects of it.

It handles the commands pyngrok runs (``start --none --log stdout [--config P] [--authtoken T]
[--region R]``, ``--version``, ``config add-authtoken``, ``update``), prints the agent's
``key=value`` log lines on stdout, and serves the agent's local API (``/api/tunnels`` for
config v2, ``/api/endpoints`` for config v3) on 127.0.0.1. Public URLs are
``https://<random>.ngrok-free.app`` unless a ``domain`` / ``url`` is requested.

Behaviour for tests, through environment variables:

- ``FAKE_NGROK_VALID_AUTHTOKEN``: only this authtoken is accepted (any non-empty one otherwise).
  A rejected or missing token fails like the real agent: ``lvl=eror`` lines (the real error text
  quotes the token back), then exit status 1.
- ``FAKE_NGROK_URL_PREFIX``: deterministic URLs ``https://<prefix>-<n>.ngrok-free.app``.
- ``FAKE_NGROK_RECONNECT_AFTER`` (seconds): then log a lost session and the reconnect loop;
  ``FAKE_NGROK_RECONNECT_FOR`` (seconds): then come back (absent: stay reconnecting).
- ``FAKE_NGROK_EXIT_AFTER`` (seconds): then die, as the agent does when killed from outside.
- ``FAKE_NGROK_RECORD``: a file to which each command line and each API request body is appended
  as one JSON line, so tests can check what was passed.
- ``FAKE_NGROK_WEB_PORT``: first port tried for the API (default 4040, counting up like ngrok).

Only the standard library and PyYAML (a pyngrok dependency) are used, so the wrapper can run it
with any interpreter that has pyngrok installed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

VERSION = "3.19.1"


def _record(entry: dict[str, Any]) -> None:
    path = os.environ.get("FAKE_NGROK_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-_.:/[]" for c in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "\\r").replace("\n", "\\n") + '"'


def log(lvl: str, msg: str, **fields: str) -> None:
    """Print one line the way the agent does with ``--log stdout`` (logfmt)."""
    t = datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    parts = [f"t={t}", f"lvl={lvl}", f"msg={_quote(msg)}"]
    parts += [f"{k}={_quote(v)}" for k, v in fields.items()]
    try:
        sys.stdout.write(" ".join(parts) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # The reader is gone (pyngrok's parent died): the Go agent dies of SIGPIPE here.
        os._exit(1)


class Agent:
    def __init__(self, authtoken: str | None) -> None:
        self.authtoken = authtoken
        self.tunnels: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.counter = 0
        self.session_id = secrets.token_hex(6)

    def new_url(self) -> str:
        self.counter += 1
        prefix = os.environ.get("FAKE_NGROK_URL_PREFIX")
        host = f"{prefix}-{self.counter}" if prefix else secrets.token_hex(6)
        return f"https://{host}.ngrok-free.app"

    # -- tunnels (config v2) -------------------------------------------------------------------
    def start_tunnel(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = str(body.get("name") or f"tunnel-{self.counter + 1}")
        addr = str(body.get("addr", "80"))
        proto = str(body.get("proto", "http"))
        if proto not in ("http", "tcp", "tls"):
            return 400, _api_error(102, 400, "invalid tunnel configuration", f"unknown proto {proto!r}")
        for cred in body.get("basic_auth") or []:
            user, _, password = str(cred).partition(":")
            if not user or not 8 <= len(password) <= 128:
                return 400, _api_error(
                    102,
                    400,
                    "invalid tunnel configuration",
                    "basic_auth: passwords must be between 8 and 128 characters",
                )
        restriction = body.get("ip_restriction") or {}
        if restriction and not isinstance(restriction.get("allow_cidrs", []), list):
            return 400, _api_error(102, 400, "invalid tunnel configuration", "allow_cidrs must be a list")
        domain = body.get("domain") or body.get("hostname")
        with self.lock:
            if name in self.tunnels:
                return 400, _api_error(
                    102, 400, "invalid tunnel configuration", f"a tunnel named {name!r} already exists"
                )
            public_url = f"https://{domain}" if domain else self.new_url()
            if any(t["public_url"] == public_url for t in self.tunnels.values()):
                return 502, _api_error(
                    103,
                    502,
                    "failed to start tunnel",
                    f"The endpoint '{public_url}' is already online.\r\n\r\nERR_NGROK_334\r\n",
                )
            local = addr if "://" in addr else f"http://localhost:{addr}"
            tunnel = {
                "ID": secrets.token_hex(16),
                "name": name,
                "uri": f"/api/tunnels/{name}",
                "public_url": public_url,
                "proto": "https",
                "config": {"addr": local, "inspect": bool(body.get("inspect", True))},
                "metrics": _empty_metrics(),
            }
            self.tunnels[name] = tunnel
        log("info", "started tunnel", obj="tunnels", name=name, addr=local, url=public_url)
        return 201, tunnel

    # -- endpoints (config v3) -----------------------------------------------------------------
    def start_endpoint(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        upstream = (body.get("upstream") or {}).get("url", "80")
        legacy = {"name": body.get("name"), "addr": str(upstream), "proto": "http"}
        url = body.get("url")
        if url:
            legacy["domain"] = str(url).split("://", 1)[-1].rstrip("/")
        status, data = self.start_tunnel(legacy)
        if status != 201:
            return status, data
        return 201, _as_endpoint(data)


def _as_endpoint(tunnel: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": tunnel["ID"],
        "name": tunnel["name"],
        "uri": f"/api/endpoints/{tunnel['name']}",
        "url": tunnel["public_url"],
        "upstream": {"url": tunnel["config"]["addr"], "protocol": "http1"},
    }


def _empty_metrics() -> dict[str, Any]:
    zero = {"count": 0, "rate1": 0, "rate5": 0, "rate15": 0, "p50": 0, "p90": 0, "p95": 0, "p99": 0}
    return {"conns": dict(zero, gauge=0), "http": dict(zero)}


def _api_error(code: int, status: int, msg: str, err: str) -> dict[str, Any]:
    return {"error_code": code, "status_code": status, "msg": msg, "details": {"err": err}}


def make_handler(agent: Agent) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # the agent logs no access lines
            pass

        def _send(self, status: int, data: dict[str, Any] | None) -> None:
            payload = b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            body = json.loads(raw or b"{}")
            _record({"method": self.command, "path": self.path, "body": body})
            return body if isinstance(body, dict) else {}

        def _split(self) -> tuple[str, str | None]:
            path = self.path.split("?", 1)[0].rstrip("/")
            for kind in ("tunnels", "endpoints"):
                base = f"/api/{kind}"
                if path == base:
                    return kind, None
                if path.startswith(base + "/"):
                    return kind, path[len(base) + 1 :]
            return path, None

        def do_GET(self) -> None:
            kind, name = self._split()
            with agent.lock:
                tunnels = list(agent.tunnels.values())
            if kind == "/api":
                self._send(200, {"uri": "/api", "tunnels": "/api/tunnels", "endpoints": "/api/endpoints"})
            elif kind == "tunnels" and name is None:
                self._send(200, {"tunnels": tunnels, "uri": "/api/tunnels"})
            elif kind == "endpoints" and name is None:
                self._send(200, {"endpoints": [_as_endpoint(t) for t in tunnels], "uri": "/api/endpoints"})
            elif kind in ("tunnels", "endpoints") and name in agent.tunnels:
                tunnel = agent.tunnels[name]
                self._send(200, tunnel if kind == "tunnels" else _as_endpoint(tunnel))
            else:
                self._send(404, _api_error(100, 404, "Not Found", "resource not found"))

        def do_POST(self) -> None:
            kind, name = self._split()
            if name is not None or kind not in ("tunnels", "endpoints"):
                self._send(405, _api_error(101, 405, "Method Not Allowed", "method not allowed"))
                return
            body = self._body()
            status, data = agent.start_tunnel(body) if kind == "tunnels" else agent.start_endpoint(body)
            self._send(status, data)

        def do_DELETE(self) -> None:
            _kind, name = self._split()
            with agent.lock:
                found = agent.tunnels.pop(name, None) if name else None
            if found is None:
                self._send(404, _api_error(100, 404, "Not Found", "tunnel not found"))
                return
            log("info", "stopped tunnel", obj="tunnels", name=str(name))
            self._send(204, None)

    return Handler


def _bind(first_port: int) -> ThreadingHTTPServer:
    last_error: OSError | None = None
    for port in range(first_port, first_port + 50):
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), make_handler(_AGENT))
        except OSError as exc:
            last_error = exc
    raise SystemExit(f"ERROR:  failed to start web service: {last_error}")


def _reject_token(token: str | None) -> str | None:
    """The agent's words when the ngrok service refuses the token, or None when it accepts it."""
    if not token:
        return (
            "authentication failed: Usage of ngrok requires a verified account and authtoken.\r\n\r\n"
            "Sign up for an account: https://dashboard.ngrok.com/signup\r\n"
            "Install your authtoken: https://dashboard.ngrok.com/get-started/your-authtoken\r\n\r\n"
            "ERR_NGROK_4018\r\n"
        )
    valid = os.environ.get("FAKE_NGROK_VALID_AUTHTOKEN")
    if valid is not None and token != valid:
        # The real agent quotes the token back in this message: callers must not log it raw.
        return (
            "authentication failed: The authtoken you specified is properly formed, "
            "but it is invalid.\r\n\r\n"
            f"Your authtoken: {token}\r\n\r\n"
            "This usually happens when:\r\n\r\n    - You reset your authtoken\r\n\r\n"
            "Go to your ngrok dashboard and double check that your authtoken is correct:\r\n\r\n"
            "    https://dashboard.ngrok.com/get-started/your-authtoken\r\n\r\nERR_NGROK_107\r\n"
        )
    return None


def _session_events() -> None:
    after = os.environ.get("FAKE_NGROK_RECONNECT_AFTER")
    if after is None:
        return
    time.sleep(float(after))
    sid = _AGENT.session_id
    log("eror", "heartbeat timeout, terminating session", obj="csess", id=sid)
    log(
        "eror",
        "failed to reconnect session",
        obj="tunnels.session",
        id=sid,
        err="read tcp 192.0.2.10:50412->3.134.73.173:443: i/o timeout",
    )
    back = os.environ.get("FAKE_NGROK_RECONNECT_FOR")
    if back is None:
        return
    time.sleep(float(back))
    log("info", "tunnel session started", obj="tunnels.session")
    log("info", "client session established", obj="csess", id=sid)


def _exit_later() -> None:
    after = os.environ.get("FAKE_NGROK_EXIT_AFTER")
    if after is not None:
        time.sleep(float(after))
        os._exit(2)


def _flag(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def run_agent(args: list[str]) -> int:
    global _AGENT
    config_path = _flag(args, "--config")
    config: dict[str, Any] = {}
    if config_path:
        with open(config_path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
        log("info", "open config file", path=config_path, err="nil")
    else:
        log("info", "no configuration paths supplied")
    agent_section = config.get("agent") if str(config.get("version")) == "3" else config
    agent_section = agent_section or {}
    token = _flag(args, "--authtoken") or agent_section.get("authtoken") or os.environ.get("NGROK_AUTHTOKEN")
    _AGENT = Agent(token)

    web_addr = str(agent_section.get("web_addr") or "")
    first_port = (
        int(web_addr.rsplit(":", 1)[1])
        if ":" in web_addr
        else int(os.environ.get("FAKE_NGROK_WEB_PORT", "4040"))
    )
    server = _bind(first_port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    log("info", "starting web service", obj="web", addr=f"{host}:{port}", allow_hosts="[]")

    refusal = _reject_token(token)
    if refusal is not None:
        log("eror", "failed to reconnect session", obj="tunnels.session", id=_AGENT.session_id, err=refusal)
        log("eror", "session closing", obj="tunnels.session", err=refusal)
        server.shutdown()
        sys.stderr.write("ERROR:  " + refusal.replace("\r\n", "\n"))
        return 1

    log("info", "client session established", obj="csess", id=_AGENT.session_id)
    log("info", "tunnel session started", obj="tunnels.session")
    threading.Thread(target=_session_events, daemon=True).start()
    threading.Thread(target=_exit_later, daemon=True).start()

    done = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    while not done.wait(0.5):
        pass
    server.shutdown()
    return 0


_AGENT = Agent(None)


def main(argv: list[str]) -> int:
    _record({"argv": argv})
    if not argv or argv[0] in ("help", "--help", "-h"):
        print("NAME:\n  ngrok - tunnel local ports to public URLs and inspect traffic")
        return 0
    if argv[0] in ("version", "--version", "-v"):
        print(f"ngrok version {VERSION}")
        return 0
    if argv[0] == "update":
        print("No update available, this is the latest version.")
        return 0
    if argv[:2] == ["config", "add-authtoken"] and len(argv) >= 3:
        path = _flag(argv, "--config") or os.path.expanduser("~/.config/ngrok/ngrok.yml")
        data: dict[str, Any] = {}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
        data.setdefault("version", "3")
        if str(data["version"]) == "3":
            data.setdefault("agent", {})["authtoken"] = argv[2]
        else:
            data["authtoken"] = argv[2]
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(data, fh)
        print(f"Authtoken saved to configuration file: {path}")
        return 0
    if argv[0] == "start":
        return run_agent(argv[1:])
    sys.stderr.write(f'ERROR:  unknown command "{argv[0]}" for "ngrok"\n')
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
