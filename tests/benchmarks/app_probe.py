"""Child process of tests/benchmarks/app.py: WearSync `--sandbox` with an event-loop stall probe.

A QTimer ticks every 10 ms on the UI thread; how late each tick comes is how long the UI thread was
busy. Counted from the window's first event-loop turn until the status bar says the demo data
(every demo account's last days, downloaded by the sandbox sync in the background) is in; then one
line `probe: {json}` goes to stdout and the app quits.

    python -m tests.benchmarks.app_probe [timeout seconds]
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
    qapp = QApplication(sys.argv[:1])  # run_gui uses this one
    lateness: list[float] = []
    state: dict[str, float | None] = {"last": None, "shown": None}

    def tick() -> None:
        now = time.perf_counter()
        last = state["last"]
        if state["shown"] is not None and last is not None:
            lateness.append(max(0.0, now - last - 0.010))
        state["last"] = now

    def report(done: bool, message: str) -> None:
        shown = state["shown"] or time.perf_counter()
        ordered = sorted(lateness) or [0.0]
        rows = "".join(ch for ch in message.partition("(")[2].partition(" rows")[0] if ch.isdigit())
        result = {"worst_ms": ordered[-1] * 1000, "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
                  "ticks": len(lateness), "sync_s": time.perf_counter() - shown, "rows": int(rows or 0),
                  "done": done}
        print("probe: " + json.dumps(result), flush=True)
        qapp.quit()

    def watch() -> None:
        window = next((w for w in qapp.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()), None)
        if window is None:
            return
        if state["shown"] is None:
            state["shown"] = state["last"] = time.perf_counter()
            return
        message = window.statusBar().currentMessage()
        if message.startswith("Sandbox: demo data ready") or "could not be downloaded" in message:
            watcher.stop()
            report("ready" in message, message)
        elif time.perf_counter() - float(state["shown"]) > timeout:
            watcher.stop()
            report(False, message)

    probe = QTimer(interval=10)
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.timeout.connect(tick)
    probe.start()
    watcher = QTimer(interval=50)
    watcher.timeout.connect(watch)
    watcher.start()

    from main import main as wearsync

    return wearsync(["--sandbox"])


if __name__ == "__main__":
    sys.exit(main())
