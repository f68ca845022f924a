"""`main.py tunnel configure` black-box: the Tunnel page's settings from a terminal, secrets from standard input
only, the same checks (bad input: exit 1, one sentence, nothing changed), audited as done from the host."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

TOKEN = "2abcDEFtunnelTokenForTests_0123456789"
PASSWORD = "grafana-pass-4821x"


class Opts:
    """What the window's Tunnel page would show, read through the other commands."""

    def __init__(self, run_cli: Any, tmp_path: Path) -> None:
        get = {k: run_cli("settings", "get", k).stdout.strip() for k in (
            "ngrok_domain", "grafana_domain", "grafana_tunnel_user", "grafana_tunnel_allow",
            "grafana_tunnel_open", "start_tunnel_with_app")}
        stored = {line.split()[0]: "password store" in line for line in run_cli("secrets", "list").stdout.splitlines()}
        self.domain, self.grafana_domain = get["ngrok_domain"], get["grafana_domain"]
        self.grafana_user = get["grafana_tunnel_user"]
        self.allow_cidrs = tuple(x.strip() for x in get["grafana_tunnel_allow"].split(",") if x.strip())
        self.grafana_open = get["grafana_tunnel_open"] == "yes"
        self.start_with_app = get["start_tunnel_with_app"] == "yes"
        self.has_authtoken, self.has_password = stored["NGROK_AUTHTOKEN"], stored["GRAFANA_TUNNEL_PASSWORD"]
        keyring = tmp_path / "keyring.json"
        self.keyring_text = keyring.read_text() if keyring.exists() else ""


def options(run_cli: Any, tmp_path: Path) -> tuple[Opts, bool]:
    o = Opts(run_cli, tmp_path)
    return o, PASSWORD in o.keyring_text


def test_configure_saves_what_the_tunnel_page_saves(run_cli, tmp_path: Path) -> None:
    r = run_cli("tunnel", "configure", "--authtoken-stdin", "--domain", "clinic-x.ngrok-free.app",
                "--grafana-domain", "clinic-x-grafana.ngrok-free.app", "--grafana-auth", "coordinator",
                "--start-with-app", "yes", input=f"{TOKEN}\n{PASSWORD}\n")
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout + r.stderr and PASSWORD not in r.stdout + r.stderr
    assert "sign-in as coordinator" in r.stdout
    o, pw = options(run_cli, tmp_path)
    assert o.has_authtoken and o.domain == "clinic-x.ngrok-free.app" and o.start_with_app
    assert o.grafana_domain == "clinic-x-grafana.ngrok-free.app" and o.grafana_user == "coordinator"
    assert pw and o.has_password and not o.grafana_open and o.allow_cidrs == ()

    # switching to an address list drops the sign-in; the other settings stay as they were
    r = run_cli("tunnel", "configure", "--grafana-allow", "203.0.113.0/24", "--grafana-allow", "198.51.100.7")
    assert r.returncode == 0, r.stderr
    o, pw = options(run_cli, tmp_path)
    assert o.allow_cidrs == ("203.0.113.0/24", "198.51.100.7/32") and o.grafana_user == "" and not pw
    assert o.domain == "clinic-x.ngrok-free.app" and o.has_authtoken
    r = run_cli("tunnel", "configure", "--grafana-open")
    o, _ = options(run_cli, tmp_path)
    assert r.returncode == 0 and o.grafana_open and o.allow_cidrs == () and "not recommended" in r.stdout

    audit = list(csv.DictReader(io.StringIO(run_cli("audit").stdout)))
    mine = [a for a in audit if a["user"] == "host" and a["action"] in ("setting.changed", "secret.changed")]
    assert mine and not any(TOKEN in str(a) or PASSWORD in str(a) for a in audit)
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*.log*"))
    assert TOKEN not in logs and PASSWORD not in logs


def test_configure_bad_input_changes_nothing(run_cli, tmp_path: Path) -> None:
    assert run_cli("tunnel", "configure", "--domain", "first.ngrok-free.app").returncode == 0
    for args, stdin, words in (
        (["--grafana-allow", "not-a-range"], None, "not an address range"),
        (["--grafana-auth", "coordinator"], "", "standard input"),
        (["--authtoken-stdin", "--grafana-auth", "x"], "only-one-line\n", "second"),
        (["--domain", "https://bad domain/"], None, ""),
    ):
        r = run_cli("tunnel", "configure", *args, input=stdin)
        assert r.returncode == 1, (args, r.stdout)
        assert r.stderr.startswith("wearsync: ") and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    o, _ = options(run_cli, tmp_path)
    assert o.domain == "first.ngrok-free.app" and o.grafana_user == "" and not o.has_authtoken
    both = run_cli("tunnel", "configure", "--grafana-open", "--grafana-allow", "203.0.113.0/24")
    assert both.returncode == 2 and "not allowed with" in both.stderr
