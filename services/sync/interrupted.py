"""Downloads that were running when WearSync ended: recorded as "interrupted", and said in plain words.

- A run stopped by a clean shutdown (SIGTERM, log-off, quitting the window) is recorded "interrupted"
  by the process itself (services/sync/service.py).
- A run whose process was killed (power cut, SIGKILL, crash) cannot record anything. Each running run
  therefore holds a lease: a small file in the data folder's `state/sync-runs`, locked by its process
  for as long as the run lasts. The operating system drops the lock when the process dies, however it
  dies, so the next process that finds a lease it can lock knows the run's owner is gone and records
  the run "interrupted" (no process ids, so no confusion with a reused id after a reboot).
- What was interrupted comes from the coverage ledger: the days a run reserved ("missing", never
  attempted) and did not fetch. The next catch-up fetches them (services/sync/catchup.py).
- `notes()` are the sentences shown at the next start: the interrupted runs since the last run that
  ended normally.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import IO

from sqlalchemy import and_, select, update

from db.engine import Database
from db.models import Connection, Coverage, Patient, SyncRun
from services.config import VENDOR_LABELS

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
STOPPED = "when WearSync was stopped (the computer shut down, the session ended or WearSync was closed)"
KILLED = "when WearSync ended unexpectedly (a power cut, a crash or the process was killed)"
MAX_LISTED = 5  # connections named in one note; the rest are counted

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(f: IO[bytes]) -> bool:
        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
else:
    import fcntl

    def _lock(f: IO[bytes]) -> bool:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # per open file: a second open conflicts
            return True
        except OSError:
            return False


class RunLeases:
    """One locked file per running run, named `<run id>.<database key>.lease`."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        self.key = hashlib.sha256(database_url.encode()).hexdigest()[:12]
        self._held: dict[int, IO[bytes]] = {}
        self._guard = threading.Lock()

    def _path(self, run_id: int) -> Path:
        return self.directory / f"{run_id}.{self.key}.lease"

    def take(self, run_id: int) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            f = open(self._path(run_id), "wb")  # noqa: SIM115 - held open (locked) while the run lasts
        except OSError as exc:  # a read-only data folder must not stop a download
            log.warning("could not record the running download (%s); a crash would leave it 'running'",
                        exc.strerror)
            return
        if not _lock(f):
            f.close()
            return
        with self._guard:
            self._held[run_id] = f

    def release(self, run_id: int) -> None:
        with self._guard:
            f = self._held.pop(run_id, None)
        if f is None:
            return
        f.close()  # closing drops the lock
        self._path(run_id).unlink(missing_ok=True)

    def orphans(self) -> list[int]:
        """Runs of this database whose process is gone (their lease can be locked); their files go."""
        found: list[int] = []
        try:
            files = sorted(self.directory.glob(f"*.{self.key}.lease"))
        except OSError:
            return found
        for path in files:
            try:
                run_id = int(path.name.split(".", 1)[0])
            except ValueError:
                continue
            with self._guard:
                if run_id in self._held:
                    continue  # ours, running
            try:
                f = open(path, "rb")  # noqa: SIM115
            except OSError:
                continue
            try:
                if not _lock(f):
                    continue  # its process is alive
                found.append(run_id)
            finally:
                f.close()
            path.unlink(missing_ok=True)
        return found


def _day_ranges(days: list[dt.date]) -> str:
    """[12, 13, 14 Nov, 20 Nov] -> "12–14 Nov and 20 Nov"."""
    spans: list[tuple[dt.date, dt.date]] = []
    for d in sorted(set(days)):
        if spans and d == spans[-1][1] + dt.timedelta(days=1):
            spans[-1] = (spans[-1][0], d)
        else:
            spans.append((d, d))
    parts = []
    for lo, hi in spans:
        if lo == hi:
            parts.append(f"{lo.day} {lo:%b}")
        elif (lo.year, lo.month) == (hi.year, hi.month):
            parts.append(f"{lo.day}–{hi.day} {hi:%b}")
        else:
            parts.append(f"{lo.day} {lo:%b} – {hi.day} {hi:%b}")
    if len(parts) > 3:
        parts = [*parts[:2], f"{len(parts) - 2} more periods"]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def unfinished(db: Database, since: dt.datetime) -> dict[tuple[str, str], list[dt.date]]:
    """(patient code, vendor) -> the days a download reserved at or after `since` and never fetched."""
    with db.session() as s:
        rows = s.execute(
            select(Patient.code, Connection.vendor, Coverage.local_date)
            .join(Connection, Connection.id == Coverage.connection_id)
            .join(Patient, and_(Patient.id == Connection.patient_id, Patient.deleted_at.is_(None)))
            .where(Coverage.status == "missing", Coverage.attempts == 0, Coverage.last_attempt_at >= since)
        ).tuples().all()
    out: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    for code, vendor, day in rows:
        out[(code, vendor)].append(day)
    return dict(out)


def describe(db: Database, since: dt.datetime, how: str) -> str:
    """One plain paragraph: what a download started at `since` left unfinished, and that it resumes."""
    left = unfinished(db, since)
    if not left:
        return f"A download was interrupted {how}; it was resumed."
    items = sorted(left.items())
    texts = [f"{_day_ranges(days)} for {code} ({VENDOR_LABELS.get(vendor, vendor)})"
             for (code, vendor), days in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        texts.append(f"{len(items) - MAX_LISTED} more patient devices")
    what = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]
    return f"The download of {what} was interrupted {how}; it was resumed."


def record(db: Database, run_id: int, started_at: dt.datetime, how: str, now: dt.datetime,
           summary: str = "") -> str:
    """Mark a run "interrupted" (only while it is still "running") with its plain description."""
    note = describe(db, started_at, how)
    text = note + ("\n" + summary if summary else "")
    with db.session() as s:
        s.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "running").values(
            status=INTERRUPTED, finished_at=now, summary=text[:20000]))
    return note


def recover(db: Database, leases: RunLeases, now: dt.datetime) -> int:
    """Record the runs whose process died as "interrupted"; returns how many."""
    found = leases.orphans()
    if not found:
        return 0
    with db.session() as s:
        runs = s.execute(select(SyncRun.id, SyncRun.started_at).where(
            SyncRun.id.in_(found), SyncRun.status == "running")).tuples().all()
    for run_id, started_at in runs:
        record(db, int(run_id), started_at, KILLED, now)
    if runs:
        log.info("%d download(s) were running when WearSync last ended; recorded as interrupted", len(runs))
    return len(runs)


def notes(db: Database) -> list[str]:
    """The interrupted runs since the last run that ended normally: one sentence each, oldest first."""
    with db.session() as s:
        last_normal = s.scalar(select(SyncRun.id).where(SyncRun.status.in_(("ok", "partial", "failed")))
                               .order_by(SyncRun.id.desc()).limit(1)) or 0
        texts = s.scalars(select(SyncRun.summary).where(SyncRun.id > last_normal, SyncRun.status == INTERRUPTED)
                          .order_by(SyncRun.id)).all()
    return [t.splitlines()[0] for t in texts if t]
