"""The app benchmark (issue 15): start-up to window shown, idle memory, worst event-loop stall.

Everything runs in a subprocess with `QT_QPA_PLATFORM=offscreen` and a fresh temporary data folder
(`WEARSYNC_HOME`), SQLite, no vendor configured:

- **start**: `python main.py` with `WEARSYNC_ANNOUNCE_WINDOW=1` (gui/application.py prints one line
  when the event loop first runs with the window shown); the time from starting the process to
  reading that line. First start = empty data folder (database created and migrated), later start =
  the same folder again.
- **idle**: the resident memory (VmRSS) of a later start, `idle_s` seconds after the window showed.
- **stall**: `python -m tests.benchmarks.app_probe` starts the app with `--sandbox` (simulated vendors,
  demo patients, their last 7 days downloaded in the background once the window is up) with a QTimer
  probe every 10 ms on the UI thread; the worst lateness of a tick between the window's first
  event-loop turn and the status bar saying the demo data is in.

    uv run python -m tests.benchmarks --only app [--quick]
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "main.py"
MARK = "wearsync: window shown"  # gui.application.WINDOW_SHOWN_MARK (not imported: no Qt here)
TARGETS = {"start": 2.0, "idle": 200.0, "stall": 100.0}  # s, MB (10^6 bytes), ms


@dataclass
class Figure:
    what: str
    value: float
    unit: str
    target: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.target


def app_environ(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WEARSYNC_") or k == "WEARSYNC_TEST_CLOCK_OFFSET_DAYS"}
    env.update(WEARSYNC_HOME=str(home), QT_QPA_PLATFORM="offscreen", WEARSYNC_ANNOUNCE_WINDOW="1",
               PYTHONPATH=str(ROOT))
    # as on a user's machine, where Python keeps the compiled modules (__pycache__) between starts and
    # the bundle ships them: a build host that sets PYTHONDONTWRITEBYTECODE would otherwise measure
    # the compilation of every module at every start
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _read_until(proc: subprocess.Popen[str], wanted: str, timeout: float) -> str | None:
    """The first stdout line starting with `wanted`, or None if the process ends or time runs out."""
    found: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(wanted):
                found.append(line.strip())
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    return found[0] if found else None


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the app quits cleanly on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (less disturbed by a busy host than wall time)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_once(home: Path, idle_s: float = 0.0, timeout: float = 120.0) -> tuple[float, int | None, float]:
    """Seconds from starting `main.py` to the window shown; with idle_s, the RSS that long after;
    the CPU seconds the process had used when the window showed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(MAIN)], cwd=ROOT, env=app_environ(home), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        if _read_until(proc, MARK, timeout) is None:
            raise RuntimeError(f"the window was not shown within {timeout:.0f} s (exit code {proc.poll()})")
        shown = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid)
        rss = None
        if idle_s:
            time.sleep(idle_s)
            rss = rss_bytes(proc.pid)
        return shown, rss, cpu
    finally:
        _stop(proc)


def stall_once(home: Path, timeout: float = 600.0) -> dict[str, float]:
    """The probe's result: worst and 99th-percentile tick lateness (ms), sync seconds, rows."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.app_probe", str(timeout)], cwd=ROOT,
                            env=app_environ(home), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        line = _read_until(proc, "probe: ", timeout + 60)
        if line is None:
            raise RuntimeError(f"the stall probe gave no result (exit code {proc.poll()})")
        result: dict[str, float] = json.loads(line.removeprefix("probe: "))
        return result
    finally:
        _stop(proc)


def measure(quick: bool = False, later_runs: int | None = None, idle_s: float | None = None,
            stall: bool = True) -> list[Figure]:
    runs = later_runs or (1 if quick else 3)
    idle = idle_s if idle_s is not None else (10.0 if quick else 60.0)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="wearsync-appbench-") as tmp:
        home = Path(tmp) / "home"
        start_once(Path(tmp) / "warm-up")  # not timed: compiles the modules once, as an installed app has them
        first, _, first_cpu = start_once(home)
        figures.append(Figure("start, first (empty folder)", first, "s", TARGETS["start"],
                              f"CPU {first_cpu:.2f} s"))
        later = [start_once(home) for _ in range(runs - 1)]
        last = start_once(home, idle_s=idle)
        later.append(last)
        rss = last[1]
        note = (f"median of {runs}: " + ", ".join(f"{s:.2f}" for s, _, _ in later) + "; " if runs > 1 else "") + \
            f"CPU {statistics.median(c for _, _, c in later):.2f} s"
        figures.append(Figure("start, later", statistics.median(s for s, _, _ in later), "s", TARGETS["start"],
                              note))
        assert rss is not None
        figures.append(Figure(f"idle RSS after {idle:.0f} s", rss / 1e6, "MB", TARGETS["idle"],
                              f"{rss / 2**20:.0f} MiB"))
        if stall:
            r = stall_once(Path(tmp) / "sandbox-home")
            figures.append(Figure("worst stall, sandbox sync", r["worst_ms"], "ms", TARGETS["stall"],
                                  f"p99 {r['p99_ms']:.1f} ms over {int(r['ticks'])} ticks; sync "
                                  f"{r['sync_s']:.1f} s, {int(r['rows']):,} rows"
                                  + ("" if r.get("done") else "; NOT FINISHED (timeout)")))
    return figures


def table(figures: list[Figure]) -> list[str]:
    lines = [f"{'figure':<30} {'value':>10} {'target':>9} {'ratio':>6}        note"]
    for f in figures:
        mark = "ok" if f.ratio < 1 else "MISS"
        lines.append(f"{f.what:<30} {f.value:>7.2f} {f.unit:<2} {'< ' + format(f.target, 'g') + ' ' + f.unit:>9} "
                     f"{f.ratio:>6.2f} {mark:<6} {f.note}")
    return lines


if __name__ == "__main__":
    for row in table(measure(quick="--quick" in sys.argv)):
        print(row, flush=True)
