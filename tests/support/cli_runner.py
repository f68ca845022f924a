"""Run many `main.py` commands quickly: a helper process imports main.py once, then forks one child
per command, which runs `main.main(argv)` with its own stdout/stderr files and exit status exactly as
`python main.py ARGV` would (an uncaught exception prints its traceback and exits 1, as Python does).

Used by the bad-input tests, which run dozens of commands per fault. Protocol: one JSON object per
line on stdin, one JSON answer per line on stdout:
  {"argv": [...], "env": {...}, "out": "/path/prefix"}  ->  {"rc": N}   (prefix.out / prefix.err)
  {"digest": "/some/folder", "skip": ["logs"]}          ->  {"digest": {relative path: sha256}}
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import traceback
from pathlib import Path

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


def serve() -> None:
    sys.path.insert(0, str(ROOT))
    # what every command imports anyway: loaded once here, shared by the forked children
    import alembic.command  # noqa: F401
    import sqlalchemy  # noqa: F401

    import main  # noqa: F401
    import services.app  # noqa: F401

    for line in sys.stdin:
        req = json.loads(line)
        if "digest" in req:
            answer: dict[str, object] = {"digest": digest(req["digest"], req.get("skip", []))}
        else:
            answer = {"rc": run_child(req["argv"], req.get("env", {}), req["out"])}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
