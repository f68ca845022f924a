"""Smoke test of a built WearSync folder, run as a user's computer would: no virtualenv, no PYTHONPATH,
a fresh data folder.

    python3 installer/smoke.py dist/WearSync

Checks: `--version` answers; `db upgrade` creates the database in a fresh data folder; `--headless` runs
and stops with exit 0 on SIGTERM; the window opens (offscreen) and stops with exit 0 on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ", "DISPLAY", "XAUTHORITY")}
    return {**keep, "PATH": "/usr/bin:/bin", "HOME": str(home), "WEARSYNC_HOME": str(home / "data"),
            "QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def _wait_for(path: Path, text: str, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for log in path.glob("*.log"):
            if text in log.read_text(errors="replace"):
                return True
        time.sleep(0.5)
    return False


def _run_until_then_term(exe: Path, args: list[str], env: dict[str, str], logs: Path, marker: str) -> int:
    proc = subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        if not _wait_for(logs, marker, 120):
            proc.kill()
            out = proc.communicate()[0]
            raise AssertionError(f"{' '.join(args) or 'window'}: never logged {marker!r}\n{out[-3000:]}")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        print(f"  {' '.join(args) or 'window'}: stopped {time.monotonic() - t0:.1f} s after SIGTERM, exit {code}")
        return code
    finally:
        if proc.poll() is None:
            proc.kill()


def smoke(folder: Path) -> int:
    exe = folder / ("WearSync.exe" if os.name == "nt" else "WearSync")
    assert exe.is_file(), f"no executable at {exe}"
    with tempfile.TemporaryDirectory(prefix="wearsync-smoke-") as tmp:
        home = Path(tmp)
        env = _env(home)
        v = subprocess.run([str(exe), "--version"], env=env, capture_output=True, text=True, timeout=120)
        assert v.returncode == 0 and v.stdout.startswith("WearSync "), v.stdout + v.stderr
        print(f"  --version: {v.stdout.strip()}")
        up = subprocess.run([str(exe), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert (home / "data" / "wearsync.sqlite3").is_file(), list((home / "data").iterdir())
        print(f"  db upgrade: {up.stdout.strip().splitlines()[-1] if up.stdout.strip() else 'ok'}")
        logs = home / "data" / "logs"
        code = _run_until_then_term(exe, ["--headless"], env, logs, "running headless")
        assert code == 0, f"--headless exit {code}"
        code = _run_until_then_term(exe, [], env, logs, "window shown")
        assert code == 0, f"window exit {code}"
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "dist" / "WearSync"
    sys.exit(smoke(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
