"""`main.py --version`, `--help` and an argument error stay cheap (the CI runs main.py hundreds of
times): the subcommands and their arguments are declared without loading what the commands do, so
none of these imports the database layer, Qt, the HTTP client, the keyring or ngrok."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "db", "alembic", "PySide6", "requests", "keyring", "pyngrok", "yaml")

PROBE = (
    "import sys\n"
    "sys.path.insert(0, {root!r})\n"
    "import main\n"
    "try:\n"
    "    main.main({argv!r})\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "else:\n"
    "    code = 'no exit'\n"
    "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})\n"
    "sys.stderr.write('\\nEXIT %r\\nHEAVY %r\\n' % (code, heavy))\n"
)


@pytest.mark.parametrize(("argv", "code"), [
    (["--version"], 0),
    (["--help"], 0),
    (["secrets", "set", "--help"], 0),  # names every secret
    (["users", "add", "someone", "--role", "nobody"], 2),  # an argument error
    (["patients", "add", "P-1", "--vendor", "garmin"], 2),
])
def test_parsing_imports_nothing_heavy(argv: list[str], code: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT), argv=argv, heavy=HEAVY)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    tail = done.stderr.rsplit("\nEXIT ", 1)[-1].splitlines()
    assert tail[0] == repr(code), done.stderr[-2000:]
    assert tail[1] == "HEAVY []", done.stderr[-2000:]
    if argv == ["--version"]:
        assert done.stdout.startswith("WearSync ")
