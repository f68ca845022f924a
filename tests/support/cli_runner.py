"""Run many `main.py` commands quickly: a helper process imports main.py once, then forks one child
per command, which runs `main.main(argv)` with its own stdout/stderr files and exit status exactly as
`python main.py ARGV` would (an uncaught exception prints its traceback and exits 1, as Python does).

Used by the bad-input tests, which run dozens of commands per fault, and (the "process" request) by
tests/support/main_py.py, through which the `run_cli`-style fixtures run every `main.py` command: a
fresh `python main.py` spends about a second importing before it does anything. Protocol: one JSON
object per line on stdin, one JSON answer per line on stdout:
  {"argv": [...], "env": {...}, "out": "/path/prefix"}  ->  {"rc": N}   (prefix.out / prefix.err)
  {"digest": "/some/folder", "skip": ["logs"]}          ->  {"digest": {relative path: sha256}}
  {"process": [...], "env": {...}, "cwd": "...", "umask": N, "out": "/path/prefix", "stdin": "FILE"|"inherit"|null,
   "timeout": S}                                        ->  {"rc": N, "timed_out": bool}
The "process" child is `python main.py ARGV` started afresh in all but the imports: exactly the given
environment, working folder and umask, standard input from FILE, the test process's own (inherit) or
none (null: closed), and it ends as the interpreter does (an uncaught exception prints its traceback
and exits 1; non-daemon threads joined, atexit handlers and logging run, stdout and stderr flushed).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[2]


def digest(folder: str, skip: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    base = Path(folder)
    if not base.exists():
        return out
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base).as_posix()
        if p.is_dir() or any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_child(argv: list[str], env: dict[str, str], prefix: str) -> int:
    pid = os.fork()
    if pid == 0:  # the child: behave as `python main.py ARGV`
        code = 1
        try:
            os.environ.update(env)
            out = os.open(prefix + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            err = os.open(prefix + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(out, 1)
            os.dup2(err, 2)
            sys.argv = [str(ROOT / "main.py"), *argv]
            import main

            try:
                result = main.main(argv)
                code = int(result or 0)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if exc.code is not None and not isinstance(exc.code, int):
                    sys.stderr.write(f"{exc.code}\n")
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _become_main_py(req: dict[str, Any], inherited_stdin: int | None) -> NoReturn:
    """In the forked child: turn into `python main.py ARGV` as started by subprocess.run, run it and end."""
    out = os.open(req["out"] + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(req["out"] + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    encoding, errors = sys.stdin.encoding, sys.stdin.errors
    if req["stdin"] == "inherit" and inherited_stdin is not None:
        os.dup2(inherited_stdin, 0)
    elif req["stdin"] not in (None, "inherit"):
        fd = os.open(req["stdin"], os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)
    else:
        os.close(0)
    if inherited_stdin is not None:
        os.close(inherited_stdin)
    try:  # as the interpreter makes sys.stdin at start: None when there is no file descriptor 0
        os.fstat(0)
        sys.stdin = open(0, encoding=encoding, errors=errors, newline="\n", closefd=False)  # noqa: SIM115
    except OSError:
        sys.stdin = None  # type: ignore[assignment]
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])
    os.umask(req["umask"])
    sys.argv = [str(ROOT / "main.py"), *req["process"]]
    sys.path[0] = str(ROOT)  # as for a script: its folder first
    import main

    try:
        raise SystemExit(main.main(req["process"]))  # main.py's `sys.exit(main())`
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            sys.stderr.write(f"{exc.code}\n")
            code = 1
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    # the interpreter's own ending, in its order, less tearing down the modules (0.2 s in a forked child
    # of this big process): wait for non-daemon threads, run the atexit handlers (logging's flush and
    # close among them), flush stdout and stderr
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            code = code or 120  # as Python does when flushing stdout fails at exit
    os._exit(code)


def _wait(pid: int, timeout: float | None) -> tuple[int, bool]:
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status), False
        if deadline is not None and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status), True
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def serve() -> None:
    sys.path.insert(0, str(ROOT))
    inherited_stdin = int(sys.argv[2]) if sys.argv[1:2] == ["--stdin-fd"] else None
    # what every command imports anyway: loaded once here, shared by the forked children
    import alembic.command  # noqa: F401
    import sqlalchemy  # noqa: F401

    import main
    import services.app  # noqa: F401

    main.build_parser()  # every subcommand's module
    for line in sys.stdin:
        req = json.loads(line)
        if "digest" in req:
            answer: dict[str, object] = {"digest": digest(req["digest"], req.get("skip", []))}
        elif "process" in req:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _become_main_py(req, inherited_stdin)
            rc, timed_out = _wait(pid, req.get("timeout"))
            answer = {"rc": rc, "timed_out": timed_out}
        else:
            answer = {"rc": run_child(req["argv"], req.get("env", {}), req["out"])}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
