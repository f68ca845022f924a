"""Every subcommand, fed the bad inputs a security review found (issue 12): a bad or unreachable database
address, a damaged SQLite file, a read-only data folder, a full disk, and four bad arguments. Each must
end with exit status 1, exactly one line on stderr starting `wearsync:`, no traceback anywhere, and the
data as it was.

The fault matrix runs main.py through tests/support/cli_runner.py (main.py imported once, one forked
child per command, its own stdout/stderr and exit status); the four argument cases run `python main.py`
itself. The read-only folder and the full disk are real: a read-only bind mount and a full tmpfs, in a
private mount namespace (`unshare`); where that is not possible those two cases skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_runner import digest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "support" / "cli_runner.py"

# one or more commands per subcommand; each needs the database or the data folder
COMMANDS: list[list[str]] = [
    ["db", "upgrade"], ["db", "current"], ["db", "backup"], ["db", "downgrade", "base"],
    ["patients", "list"], ["patients", "add", "P-2", "--vendor", "polar"], ["patients", "rename", "P-1", "P-3"],
    ["patients", "delete", "P-1", "--yes"], ["patients", "undo"],
    ["users", "list"], ["users", "unlock", "nobody"], ["keys", "list"], ["keys", "generate", "--role", "viewer"],
    ["audit"], ["alerts", "list"], ["alerts", "add", "someone@example.org"],
    ["sync"], ["export", "--vendor", "fitbit", "--patient", "P-1", "--metric", "steps", "--start", "2026-11-01",
               "--end", "2026-11-02"],
    ["connect", "fitbit", "P-9", "--no-browser", "--timeout", "2"],
    ["tunnel", "status"], ["mysql", "test"], ["grafana", "provision", "--no-push"], ["grafana", "check"],
    ["settings", "list"], ["settings", "get", "enrol_link_hours"], ["patients", "withdraw", "P-1", "--keep-data",
                                                                      "--yes"],
    ["secrets", "list"],
    ["data", "delete", "--patient", "P-1", "--dry-run"], ["data", "undo"],
    ["compliance", "--start", "2026-11-01", "--end", "2026-11-02"],
    ["report", "--patient", "P-1", "--start", "2026-11-01", "--end", "2026-11-02", "--out", "{tmp}/r.pdf"],
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _base_env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "WEARSYNC_DATABASE_URL"}
    e.update({"PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
              "WEARSYNC_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
              "WEARSYNC_CALLBACK_PORT": str(_free_port()),
              "FITBIT_CLIENT_ID": "invented-client", "FITBIT_CLIENT_SECRET": "invented-secret"})
    return e


class Runner:
    """One cli_runner process (optionally inside a shell that first sets up mounts)."""

    def __init__(self, tmp_path: Path, env: dict[str, str], shell_setup: str | None = None) -> None:
        self.tmp = tmp_path / "runs"
        self.tmp.mkdir(exist_ok=True)
        cmd = [sys.executable, str(RUNNER)]
        if shell_setup is not None:
            cmd = ["unshare", "-rm", "sh", "-c", f"{shell_setup} && exec \"$0\" \"$@\"", *cmd]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.n = 0

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"cli_runner stopped: {err[-2000:]}")
        return dict(json.loads(line))

    def run(self, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
        self.n += 1
        prefix = str(self.tmp / f"cmd{self.n}")
        rc = self._ask({"argv": argv, "env": env or {}, "out": prefix})["rc"]
        return int(rc), Path(prefix + ".out").read_text(), Path(prefix + ".err").read_text()

    def digest(self, folder: Path) -> dict[str, str]:
        return dict(self._ask({"digest": str(folder), "skip": ["logs"]})["digest"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with a current schema and one patient, made once by main.py itself."""
    base = tmp_path_factory.mktemp("template")
    home = base / "home"
    env = _base_env(base) | {"WEARSYNC_HOME": str(home)}
    for argv in (["db", "upgrade"], ["patients", "add", "P-1", "--vendor", "fitbit"]):
        r = subprocess.run([sys.executable, str(ROOT / "main.py"), *argv], cwd=ROOT, env=env, text=True,
                           capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr
    return home


@pytest.fixture
def prepared(template: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    shutil.copytree(template, home)
    return home, _base_env(tmp_path) | {"WEARSYNC_HOME": str(home)}


def _check(rc: int, out: str, err: str, what: str) -> None:
    assert "Traceback" not in out + err, f"{what}: {err}"
    lines = err.splitlines()
    assert rc == 1 and len(lines) == 1 and lines[0].startswith("wearsync: "), f"{what}: rc={rc} {err!r}"


def _unshare_reason() -> str | None:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux with unshare"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"private mount namespaces not allowed here ({probe.stderr.strip()})"


EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _data(files: dict[str, str]) -> dict[str, str]:
    """The data in a digest: SQLite's shared-memory index and an empty write-ahead log hold none."""
    return {k: v for k, v in files.items() if not k.endswith("-shm") and not (k.endswith("-wal") and v == EMPTY)}


def _run_matrix(runner: Runner, home: Path, env_for_fault: dict[str, str], fault: str,
                data: Path | None = None) -> None:
    folder = data or home
    before = runner.digest(folder)
    try:
        for argv in COMMANDS:
            argv = [a.replace("{tmp}", str(runner.tmp)) for a in argv]
            rc, out, err = runner.run(argv, env_for_fault)
            _check(rc, out, err, f"{fault}: main.py {' '.join(argv)}")
        assert _data(runner.digest(folder)) == _data(before), f"{fault}: the data changed"
    finally:
        runner.close()


@pytest.mark.parametrize("fault", ["bad-url", "unknown-driver", "unreachable-mysql", "corrupt-sqlite"])
def test_database_faults(prepared: tuple[Path, dict[str, str]], tmp_path: Path, fault: str) -> None:
    home, env = prepared
    extra: dict[str, str] = {}
    if fault == "bad-url":
        extra["WEARSYNC_DATABASE_URL"] = "this is not a database address"
    elif fault == "unknown-driver":
        extra["WEARSYNC_DATABASE_URL"] = "postgresql+nosuchdriver://u@127.0.0.1/x"
    elif fault == "unreachable-mysql":
        extra["WEARSYNC_DATABASE_URL"] = f"mysql+pymysql://wearsync@127.0.0.1:{_free_port()}/wearsync"
    else:
        db = home / "wearsync.sqlite3"
        db.write_bytes(b"this is not an SQLite database, it was damaged " * 200)
    _run_matrix(Runner(tmp_path, env), home, extra, fault)


def test_read_only_data_folder(prepared: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    reason = _unshare_reason()
    if reason:
        pytest.skip(reason)
    home, env = prepared
    setup = f'mount --bind "{home}" "{home}" && mount -o remount,bind,ro "{home}"'
    _run_matrix(Runner(tmp_path, env, setup), home, {}, "read-only folder")


def test_full_disk(prepared: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    reason = _unshare_reason()
    if reason:
        pytest.skip(reason)
    home, env = prepared
    disk = tmp_path / "disk"
    disk.mkdir()
    size_kb = sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) // 1024 + 512
    full_home = disk / "home"
    setup = (f'mount -t tmpfs -o size={size_kb}k tmpfs "{disk}" && cp -a "{home}" "{full_home}" '
             f'&& (dd if=/dev/zero of="{disk}/filler" bs=1k 2>/dev/null; true)')
    runner = Runner(tmp_path, env | {"WEARSYNC_HOME": str(full_home)}, setup)
    _run_matrix(runner, full_home, {}, "full disk")


@pytest.mark.parametrize("case", ["export-out-folder", "downgrade-nonsense", "provision-out-file", "timeout-nan"])
def test_bad_arguments(prepared: tuple[Path, dict[str, str]], tmp_path: Path, case: str) -> None:
    home, env = prepared
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("keep me\n")
    argv = {
        "export-out-folder": ["export", "--vendor", "fitbit", "--patient", "P-1", "--metric", "steps",
                              "--start", "2026-11-01", "--end", "2026-11-02", "--out", str(tmp_path)],
        "downgrade-nonsense": ["db", "downgrade", "nonsense"],
        "provision-out-file": ["grafana", "provision", "--no-push", "--out", str(a_file)],
        "timeout-nan": ["connect", "fitbit", "P-1", "--no-browser", "--timeout", "nan"],
    }[case]
    before = digest(home, ["logs"])
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), *argv], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120)
    _check(done.returncode, done.stdout, done.stderr, case)
    words = {"export-out-folder": "folder", "downgrade-nonsense": "not a schema revision",
             "provision-out-file": "is a file", "timeout-nan": "positive number"}[case]
    assert words in done.stderr
    assert _data(digest(home, ["logs"])) == _data(before)  # e.g. no backup by the refused downgrade
    assert a_file.read_text() == "keep me\n"
