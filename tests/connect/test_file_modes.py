"""The data folder is its owner's alone (issue 12, item 4): a fresh folder and a full run against the
sandbox vendors (db upgrade, connect, sync, backup, logs) leave only 0700 folders and 0600 files, and
a folder an older version left readable is tightened at start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from services.sandbox import SandboxServer

from .conftest import ROOT, free_port

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes; Windows relies on the profile ACL")


def _env(home: Path, tmp_path: Path, srv: SandboxServer, port: int) -> dict[str, str]:
    e = dict(os.environ)
    e.pop("WEARSYNC_DATABASE_URL", None)  # the built-in SQLite database, inside the data folder
    e.update(srv.environ())
    e.update(srv.credentials_environ())
    e.update({"WEARSYNC_HOME": str(home), "PYTHONPATH": str(ROOT), "WEARSYNC_CALLBACK_PORT": str(port),
              "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
              "WEARSYNC_TEST_KEYRING_FILE": str(tmp_path / "keyring.json")})
    return e


def _modes(home: Path) -> dict[str, str]:
    """Every path under home (and home itself) -> its mode in octal."""
    out = {".": oct(stat.S_IMODE(home.stat().st_mode))}
    for p in home.rglob("*"):
        out[str(p.relative_to(home))] = oct(stat.S_IMODE(p.lstat().st_mode))
    return out


def _wrong(home: Path) -> dict[str, str]:
    return {name: mode for name, mode in _modes(home).items()
            if mode != ("0o700" if (home / name).is_dir() else "0o600")}


def test_a_full_run_leaves_only_owner_only_files(tmp_path: Path, srv: SandboxServer) -> None:
    home = tmp_path / "fresh-home"
    env = _env(home, tmp_path, srv, free_port())
    os.umask(0o022)  # the usual desktop umask: the app must not depend on a stricter one

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env, text=True,
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r

    run("db", "upgrade")
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "connect", "fitbit", "P-1", "--no-browser",
                             "--timeout", "60"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("http"), line
        requests.get(srv.approve(line.strip(), "anna"), timeout=30)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    run("sync", "--patient", "P-1", "--start", "2026-11-19", "--end", "2026-11-20")
    run("db", "backup")
    names = set(_modes(home))
    # what the run is about: the database with its WAL/SHM, the log, a backup
    assert {"wearsync.sqlite3", "logs", "logs/wearsync.log", "backups"} <= names, names
    assert any(n.startswith("backups/wearsync-") for n in names), names
    assert _wrong(home) == {}


def test_a_readable_folder_left_by_an_older_version_is_tightened(tmp_path: Path, srv: SandboxServer) -> None:
    home = tmp_path / "old-home"
    (home / "logs").mkdir(parents=True)
    (home / "backups").mkdir()
    for f in ("logs/wearsync.log", "backups/wearsync-old.json.gz", "wearsync.json"):
        (home / f).write_text("{}")
        os.chmod(home / f, 0o644)
    for d in (home, home / "logs", home / "backups"):
        os.chmod(d, 0o755)
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "db", "current"], cwd=ROOT,
                       env=_env(home, tmp_path, srv, free_port()), text=True, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _wrong(home) == {}
