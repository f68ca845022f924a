"""`main.py users|keys|audit` black-box: the host owner's recovery path, as a script would use it."""

from __future__ import annotations

import csv
import io

import pytest

from services.accounts.actor import HOST
from services.accounts.service import AccountLocked, SignInFailed

CARLA_PW = "seven blue lanterns drift"


@pytest.fixture
def host_app():  # type: ignore[no-untyped-def]
    """The same data directory the CLI uses, opened in-process to look and to set up."""
    from services.app import WearSync

    a = WearSync.open()
    yield a
    a.close()


def test_users_cli(run_cli, host_app) -> None:
    r = run_cli("users", "add", "Carla", "--role", "coordinator", input=CARLA_PW + "\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Added carla (coordinator).\n" and CARLA_PW not in r.stdout + r.stderr
    assert host_app.accounts.authenticate("carla", CARLA_PW).role == "coordinator"
    # a password on the command line is not accepted at all
    assert run_cli("users", "add", "bob", "--role", "viewer", CARLA_PW).returncode == 2

    for _ in range(4):
        with pytest.raises(SignInFailed):
            host_app.accounts.authenticate("carla", "wrong wrong wrong")
    with pytest.raises(AccountLocked):
        host_app.accounts.authenticate("carla", "wrong wrong wrong")
    r = run_cli("users", "list")
    assert r.returncode == 0 and "carla\tcoordinator\tlocked until" in r.stdout
    assert run_cli("users", "unlock", "carla").returncode == 0
    assert host_app.accounts.authenticate("carla", CARLA_PW).username == "carla"

    r = run_cli("users", "reset-password", "carla")
    assert r.returncode == 0, r.stderr
    temp = r.stdout.strip()
    assert len(temp) == 19 and "shown once" in r.stderr
    assert host_app.accounts.authenticate("carla", temp).username == "carla"
    assert host_app.accounts.get_user("carla", HOST).must_change_password

    weak = run_cli("users", "reset-password", "carla", "--stdin", input="password1\n")
    assert weak.returncode == 1 and weak.stderr.startswith("wearsync: Use at least 12 characters")
    assert weak.stderr.count("\n") == 1
    assert host_app.accounts.authenticate("carla", temp).username == "carla"  # unchanged

    last = run_cli("users", "set-role", "carla", "viewer")
    assert last.returncode == 0, last.stderr
    assert host_app.accounts.get_user("carla", HOST).role == "viewer"


def test_keys_and_audit_cli(run_cli, host_app) -> None:
    r = run_cli("keys", "generate", "--role", "viewer", "--hours", "3")
    assert r.returncode == 0, r.stderr
    key = r.stdout.splitlines()[0]
    assert key.startswith("WS-") and "shown only now" in r.stderr
    other = run_cli("keys", "generate").stdout.splitlines()[0]
    hint = other.split("-")[1]
    assert run_cli("keys", "revoke", hint).returncode == 0
    assert host_app.accounts.register(key, "vic", CARLA_PW).role == "viewer"

    listing = run_cli("keys", "list").stdout
    assert key not in listing and other not in listing
    states = {line.split("\t")[1]: line.split("\t")[3] for line in listing.splitlines()[1:]}
    assert states == {key.split("-")[1]: "used", hint: "revoked"}

    audit = run_cli("audit", "--since", "2000-01-01")
    assert audit.returncode == 0, audit.stderr
    rows = list(csv.DictReader(io.StringIO(audit.stdout)))
    assert [(r["user"], r["source"], r["action"]) for r in rows] == [
        ("host", "cli", "key.generate"), ("host", "cli", "key.generate"), ("host", "cli", "key.revoke"),
        ("vic", "gui", "user.register")]
    assert all(r["time_utc"].endswith("Z") for r in rows)
    assert key not in audit.stdout and other not in audit.stdout
