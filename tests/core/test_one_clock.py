"""Time has one source: nothing in the app reads the wall clock except services/clock.py, and no SQL
asks the database server for its time (its clock need not agree with the app's)."""

from __future__ import annotations

import ast
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.clock import OFFSET_ENV, Clock

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "db", "gui", "main.py")
CLOCK_MODULE = ROOT / "services" / "clock.py"
_DATE_TYPES = {"datetime", "date", "dt.datetime", "dt.date", "datetime.datetime", "datetime.date"}
_WALL_READS = {"now", "utcnow", "today"}
_QT_WALL_READS = {"currentDate", "currentDateTime", "currentTime", "currentMSecsSinceEpoch",
                  "currentSecsSinceEpoch"}
_SERVER_TIME = re.compile(r"(?<![A-Z0-9_.])(NOW\(\)|CURRENT_TIMESTAMP|UTC_TIMESTAMP|CURDATE\(|CURTIME\(|SYSDATE\(|"
                          r"LOCALTIMESTAMP|CURRENT_DATE|DATETIME\('NOW'|DATE\('NOW')")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) for every direct read of the wall clock or the database server's clock."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = _dotted(node.value)
            if node.attr in _WALL_READS and base in _DATE_TYPES:
                found.append((node.lineno, f"{base}.{node.attr}"))
            elif base == "time" and node.attr in ("time", "time_ns"):
                found.append((node.lineno, f"time.{node.attr}"))
            elif node.attr in _QT_WALL_READS and base in ("QDate", "QDateTime", "QTime"):
                found.append((node.lineno, f"{base}.{node.attr}"))
            elif node.attr == "now" and base.endswith("func"):
                found.append((node.lineno, f"{base}.now (the database server's clock)"))
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            names = [a.name for a in node.names if a.name in ("time", "time_ns")]
            if names:
                found.append((node.lineno, "from time import " + ", ".join(names)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            hit = _SERVER_TIME.search(node.value.upper())  # docstrings are prose, not SQL
            if hit:
                found.append((node.lineno, f"SQL reads the server's clock ({hit.group(1).rstrip('(')})"))
    return found


def _python_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if f != CLOCK_MODULE]


def test_the_checker_catches_every_kind_of_wall_clock_read() -> None:
    bad = """
import datetime as dt, time
from datetime import date, datetime
from time import time as wall
a = dt.datetime.now(); b = datetime.utcnow(); c = date.today(); d = dt.date.today()
e = time.time(); f = QDate.currentDate(); g = sa.func.now()
h = "SELECT * FROM t WHERE at < NOW()"
i = "ALTER TABLE t ADD c DATETIME DEFAULT CURRENT_TIMESTAMP"
"""
    what = [w for _, w in wall_clock_reads(bad)]
    assert sorted(what) == sorted([
        "from time import time", "dt.datetime.now", "datetime.utcnow", "date.today", "dt.date.today", "time.time",
        "QDate.currentDate", "sa.func.now (the database server's clock)", "SQL reads the server's clock (NOW())",
        "SQL reads the server's clock (CURRENT_TIMESTAMP)"])
    # what is fine: the app clock, monotonic timers, pure date arithmetic, words in prose
    fine = """
import time
now = clock.now(); today = clock.today(); t = time.monotonic()
d = dt.datetime.fromtimestamp(0, dt.UTC); msg = "Press Update now to download today"
"""
    assert wall_clock_reads(fine) == []


def test_nothing_but_the_clock_module_reads_the_wall_clock() -> None:
    offenders = [f"{f.relative_to(ROOT)}:{line}: {what}"
                 for f in _python_files() for line, what in wall_clock_reads(f.read_text(encoding="utf-8"))]
    assert offenders == [], ("read time through the app's clock (services/clock.py), not directly:\n"
                             + "\n".join(offenders))


# ---------------------------------------------------------------------------- the Clock itself

def test_pinned_time_is_absolute_and_advances_only_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    at = dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC)
    clock = Clock(offset=dt.timedelta(days=400))  # a test offset must not move a pinned time
    clock.pin(at)
    assert clock.now() == at
    assert clock.utcnow() == dt.datetime(2027, 3, 28, 0, 30)
    clock.advance(minutes=90)
    assert clock.now() == at + dt.timedelta(minutes=90)
    clock.pin(dt.datetime(2028, 2, 29, 12, 0))  # naive means UTC, as the database stores it
    assert clock.now() == dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC)


def test_local_time_and_today_follow_the_zone_across_a_dst_change() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    clock = Clock(tz=berlin, pinned=dt.datetime(2027, 3, 28, 0, 59, tzinfo=dt.UTC))  # 01:59 CET
    assert clock.local_now().utcoffset() == dt.timedelta(hours=1)
    clock.advance(minutes=2)  # 01:01 UTC = 03:01 CEST: the clocks went forward
    assert clock.local_now().hour == 3 and clock.local_now().utcoffset() == dt.timedelta(hours=2)
    clock.pin(dt.datetime(2026, 12, 31, 22, 59, tzinfo=dt.UTC))
    assert clock.today() == dt.date(2026, 12, 31)
    clock.advance(minutes=1)  # midnight in Berlin: a new year there, still the old one in UTC
    assert clock.today() == dt.date(2027, 1, 1) and clock.utcnow().year == 2026


def test_the_test_offset_moves_the_real_time_source_only() -> None:
    real = Clock()
    shifted = Clock.from_environ({OFFSET_ENV: "400"})
    gap = shifted.now() - real.now()
    assert abs(gap - dt.timedelta(days=400)) < dt.timedelta(seconds=5)
    assert Clock.from_environ({OFFSET_ENV: "soon"}).offset == dt.timedelta(0)


def test_time_machine_moves_an_unpinned_clock() -> None:
    import time_machine

    with time_machine.travel(dt.datetime(2028, 2, 29, 23, 0, tzinfo=dt.UTC), tick=False):
        assert Clock().utcnow() == dt.datetime(2028, 2, 29, 23, 0)


def test_a_subprocess_inherits_the_offset() -> None:
    code = ("import datetime as dt, os; from services.clock import Clock; "
            "print((Clock.from_environ(os.environ).now() - dt.datetime.now(dt.UTC)).days)")
    env = {**os.environ, OFFSET_ENV: "731", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert int(out) in (730, 731)


def test_the_backup_is_stamped_with_the_time_it_is_given(tmp_path: Path) -> None:
    from db.engine import Database
    from db.migrate import backup_database, upgrade

    db = Database(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    try:
        upgrade(db)
        made = backup_database(db, tmp_path / "b", dt.datetime(2028, 2, 29, 23, 59, 58), label="x")
        assert made.name == "wearsync-20280229T235958Z-x.sqlite3"
        aware = dt.datetime(2027, 3, 28, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        assert backup_database(db, tmp_path / "b", aware).name.startswith("wearsync-20270328T010000Z-")
    finally:
        db.dispose()
