"""`python -m tests.faults.killpoint ARGS...`: `main.py ARGS...` that stops dead in the middle of a write.

After the Nth time-series upsert (WEARSYNC_FAULT_STOP_AFTER_UPSERTS) has been sent, inside that chunk's
open transaction and before its commit, it creates the file WEARSYNC_FAULT_MARKER and waits there
for the test to SIGKILL it. WEARSYNC_FAULT_CHUNK_DAYS (optional) makes every Fitbit chunk that many
days, as the test's own process does. A test driver only: nothing of it is part of WearSync.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def install(stop_after: int, marker: Path) -> None:
    import services.sync.store as store
    from db.models import MEASUREMENT_TABLES

    series = {m.__table__ for m in MEASUREMENT_TABLES}
    real = store.upsert
    seen = [0]

    def upsert(session: Any, model: Any, rows: Any, key: Any) -> int:
        n = real(session, model, rows, key)
        if getattr(model, "__table__", model) in series:
            seen[0] += 1
            if seen[0] == stop_after:
                marker.write_text(str(model.__tablename__))
                while True:  # the test kills this process here
                    time.sleep(1)
        return n

    store.upsert = upsert  # type: ignore[assignment]


def chunk_days(n: int) -> None:
    from dataclasses import replace

    from services.vendors.fitbit import Fitbit

    Fitbit.data_types = tuple(replace(t, chunk_days=n) for t in Fitbit.data_types)


def main(argv: list[str]) -> int:
    if os.environ.get("WEARSYNC_FAULT_CHUNK_DAYS"):
        chunk_days(int(os.environ["WEARSYNC_FAULT_CHUNK_DAYS"]))
    install(int(os.environ["WEARSYNC_FAULT_STOP_AFTER_UPSERTS"]), Path(os.environ["WEARSYNC_FAULT_MARKER"]))
    from main import main as wearsync

    return wearsync(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
