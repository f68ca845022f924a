"""`python main.py ARGV` for tests, without paying its start-up for every command.

A fresh interpreter spends about a second (two on a busy CI machine) importing SQLAlchemy, the models
and the services before a command does anything, and the suite runs a few hundred commands. One helper
process (tests/support/cli_runner.py) imports all that once per test session and forks a child per
command, which becomes the command as subprocess.run would start it: exactly the environment given,
the working folder, the test process's umask, standard input from `input` (else the test process's own,
or none), stdout and stderr captured, the exit status; it ends as the interpreter does. What a fresh
interpreter adds - that main.py and its imports load at all - is checked by the tests that still start
`python main.py` itself (tests/core/test_cli_lazy.py, the bad-argument cases, the bundle's smoke test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "support" / "cli_runner.py"


class MainPy:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="wearsync-main-py-"))
        self._n = 0

    def _server(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            args = [sys.executable, str(RUNNER)]
            pass_fds: tuple[int, ...] = ()
            try:
                os.fstat(0)
            except OSError:
                pass  # no standard input here: the commands get none either
            else:
                fd = os.dup(0)
                pass_fds = (fd,)
                args += ["--stdin-fd", str(fd)]
            log = (self._dir / "runner.log").open("a")
            try:
                self._proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                              text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=log, pass_fds=pass_fds)
            finally:
                log.close()
                for fd in pass_fds:
                    os.close(fd)
        return self._proc

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        proc = self._server()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(req) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            log = (self._dir / "runner.log").read_text(errors="replace")
            raise RuntimeError(f"tests/support/cli_runner.py stopped: {log[-2000:]}")
        return dict(json.loads(line))

    def run(self, args: list[str], *, env: dict[str, str], cwd: Path = ROOT, input: str | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """As subprocess.run([sys.executable, "main.py", *args], cwd=cwd, env=env, input=input, text=True,
        capture_output=True, timeout=timeout)."""
        self._n += 1
        prefix = self._dir / f"cmd{self._n}"
        stdin: str | None = "inherit"
        if input is not None:
            stdin = str(prefix) + ".in"
            with open(stdin, "w") as f:  # the text encoding subprocess.run uses
                f.write(input)
        mask = os.umask(0o077)
        os.umask(mask)
        answer = self._ask({"process": list(args), "env": dict(env), "cwd": str(cwd), "umask": mask,
                            "out": str(prefix), "stdin": stdin, "timeout": timeout})
        with open(str(prefix) + ".out") as f:
            out = f.read()
        with open(str(prefix) + ".err") as f:
            err = f.read()
        for suffix in (".in", ".out", ".err"):
            Path(str(prefix) + suffix).unlink(missing_ok=True)
        cmd = [sys.executable, str(ROOT / "main.py"), *args]
        if answer["timed_out"]:
            raise subprocess.TimeoutExpired(cmd, timeout or 0, output=out, stderr=err)
        return subprocess.CompletedProcess(cmd, int(answer["rc"]), out, err)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin:
                self._proc.stdin.close()
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
            self._proc = None
        for p in self._dir.glob("*"):
            p.unlink(missing_ok=True)
        self._dir.rmdir()
