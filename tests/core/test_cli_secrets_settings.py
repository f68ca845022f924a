"""`main.py secrets ...` and `main.py settings ...` black-box: the window's services underneath, bad input
refused with one sentence and nothing changed, a secret's value never on the command line, in the log or
in the audit trail."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

SECRET = "ngrok-test-value-9f3a71c2e4"


def audit_rows(run_cli) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    r = run_cli("audit")
    assert r.returncode == 0, r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout)))


def test_secret_set_list_test_remove(run_cli, tmp_path: Path) -> None:
    listing = run_cli("secrets", "list")
    assert listing.returncode == 0, listing.stderr
    line = next(x for x in listing.stdout.splitlines() if x.startswith("NGROK_AUTHTOKEN "))
    assert "not set" in line
    assert "old system (optional)" in next(x for x in listing.stdout.splitlines() if x.startswith("EMAIL_LIST "))

    r = run_cli("secrets", "set", "NGROK_AUTHTOKEN", input=SECRET + "\n")
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    line = next(x for x in run_cli("secrets", "list").stdout.splitlines() if x.startswith("NGROK_AUTHTOKEN "))
    assert "password store" in line and SECRET not in line and "•" in line
    t = run_cli("secrets", "test", "NGROK_AUTHTOKEN")
    assert t.returncode == 0 and t.stdout.strip() == "Stored and readable."

    # the value is nowhere a stranger could read it: not the log, not the audit trail
    logs = "".join(p.read_text(errors="replace") for p in Path(os.environ["WEARSYNC_HOME"]).rglob("*.log*"))
    assert SECRET not in logs
    rows = audit_rows(run_cli)
    changed = [r for r in rows if r["action"] == "secret.changed" and r["target"] == "NGROK_AUTHTOKEN"]
    assert len(changed) == 1 and changed[0]["user"] == "host" and SECRET not in str(rows)
    assert any(r["action"] == "secret.tested" for r in rows)

    assert run_cli("secrets", "remove", "NGROK_AUTHTOKEN").returncode == 0
    gone = run_cli("secrets", "test", "NGROK_AUTHTOKEN")
    assert gone.returncode == 1 and gone.stderr.startswith("wearsync: ") and gone.stderr.count("\n") == 1
    assert "not set" in gone.stderr


def test_secret_bad_input_changes_nothing(run_cli) -> None:
    unknown = run_cli("secrets", "set", "NOT_A_SECRET", input="x\n")
    assert unknown.returncode == 1 and "is not a WearSync secret" in unknown.stderr
    empty = run_cli("secrets", "set", "POLAR_CLIENT_SECRET", input="")
    assert empty.returncode == 1 and "nothing was stored" in empty.stderr
    spaced = run_cli("secrets", "set", "POLAR_CLIENT_SECRET", input=" padded \n")
    assert spaced.returncode == 1 and "spaces" in spaced.stderr
    line = next(x for x in run_cli("secrets", "list").stdout.splitlines() if x.startswith("POLAR_CLIENT_SECRET "))
    assert "not set" in line
    # a value on the command line is not accepted at all
    argv = run_cli("secrets", "set", "POLAR_CLIENT_SECRET", "on-the-command-line")
    assert argv.returncode == 2 and "unrecognized arguments" in argv.stderr


def test_secret_value_never_in_the_process_list(tmp_path: Path) -> None:
    """While `secrets set` waits for its value, its command line (what `ps` shows) holds only the name."""
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="tests.support.keyrings.FileKeyring",
               WEARSYNC_TEST_KEYRING_FILE=str(tmp_path / "keyring.json"), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "secrets", "set", "NGROK_AUTHTOKEN"], cwd=ROOT,
                            env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None
        proc.stdin.write(SECRET[:10])  # half the value typed: the process is running and reading
        proc.stdin.flush()
        time.sleep(0.5)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        assert "NGROK_AUTHTOKEN" in cmdline and SECRET[:10] not in cmdline
        _, err = proc.communicate(SECRET[10:] + "\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert SECRET in (tmp_path / "keyring.json").read_text()  # stored whole, from standard input


def test_import_env(run_cli) -> None:
    r = run_cli("secrets", "import-env", env={"DATA_PLATFORM_EMAIL": "alerts@clinic.example"})
    assert r.returncode == 0 and "DATA_PLATFORM_EMAIL" in r.stdout
    # now stored: visible without the environment variable
    line = next(x for x in run_cli("secrets", "list").stdout.splitlines() if x.startswith("DATA_PLATFORM_EMAIL "))
    assert "password store" in line and "alerts@clinic.example" in line  # not sensitive: shown
    none = run_cli("secrets", "import-env")
    assert none.returncode == 0 and "nothing imported" in none.stdout


def test_settings_list_get_set(run_cli) -> None:
    listing = run_cli("settings", "list")
    assert listing.returncode == 0
    assert any(x.startswith("sync_time ") and "00:00" in x for x in listing.stdout.splitlines())
    r = run_cli("settings", "set", "sync_time", "2:30")
    assert r.returncode == 0, r.stderr
    assert run_cli("settings", "get", "sync_time").stdout.strip() == "02:30"
    assert run_cli("settings", "set", "start_tunnel_with_app", "yes").returncode == 0
    assert run_cli("settings", "get", "start_tunnel_with_app").stdout.strip() == "yes"
    rows = [r for r in audit_rows(run_cli) if r["action"] == "setting.changed"]
    assert [(r["target"], r["user"]) for r in rows] == [("sync_time", "host"), ("start_tunnel_with_app", "host")]


def test_settings_bad_input_changes_nothing(run_cli) -> None:
    assert run_cli("settings", "set", "alert_after_days", "5").returncode == 0
    for key, value, words in (("sync_time", "25:00", "HH:MM"), ("alert_after_days", "-1", "cannot be negative"),
                              ("alert_after_days", "three", "whole number"), ("no_such_key", "1", "no setting"),
                              ("start_tunnel_with_app", "perhaps", "yes or no"),
                              ("close_to_tray", "sometimes", "ask, tray or quit")):
        r = run_cli("settings", "set", key, value)
        assert r.returncode == 1, (key, value, r.stdout)
        assert r.stderr.startswith("wearsync: ") and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert run_cli("settings", "get", "sync_time").stdout.strip() == "00:00"
    assert run_cli("settings", "get", "alert_after_days").stdout.strip() == "5"
    assert run_cli("settings", "get", "close_to_tray").stdout.strip() == "ask"
