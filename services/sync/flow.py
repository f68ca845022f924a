"""The two ways a download starts besides the command line: the scheduler and "Update now".

- `sync_days()` adapts the scheduler's `run_sync(trigger, days, connection_ids)` to SyncService:
  each connection gets exactly those patient-local days, as contiguous ranges, through the
  per-connection queues (so a connection a coordinator is already updating is joined, not run twice).
- `update_now()` is the seed's "Update now": every connection not yet updated today, through the
  same queues; a connection the scheduler is already downloading is joined.
Both record one SyncRun with the trigger, so the history on the Sync page shows who started what.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import CancelledError, Future
from typing import TYPE_CHECKING

from sqlalchemy import select

from db.models import Connection

if TYPE_CHECKING:
    from services.clock import Clock
    from services.sync.service import Progress, SyncResult, SyncRunResult, SyncService


def contiguous_ranges(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """[1, 2, 3, 7, 8] -> [(1, 3), (7, 8)]; duplicates and order do not matter."""
    out: list[tuple[dt.date, dt.date]] = []
    for d in sorted(set(days)):
        if out and d == out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def sync_days(svc: SyncService, trigger: str, days: list[dt.date] | None,
              connection_ids: list[int] | None = None) -> SyncRunResult:
    from services.sync.service import SYNCABLE, SyncRunResult

    rows = svc.store.connections()
    if connection_ids is not None:
        wanted = set(connection_ids)
        rows = [r for r in rows if r[0] in wanted]
    if days is None:
        return svc.sync_rows(rows, None, None, trigger=trigger)
    ranges = contiguous_ranges(days)
    if svc.stopping.is_set():
        from services.sync.service import SyncStopped

        raise SyncStopped("WearSync is stopping; the download continues at the next start.")
    run_id = svc.start_run(trigger, len(rows))
    results: list[SyncResult] = []
    complete = dropped = False
    try:
        for cid, code, vendor, status in rows:
            if status == "needs_reconsent":
                results.append(svc._not_syncable(cid, code, vendor, status))
        syncable = [r for r in rows if r[3] in SYNCABLE]
        # one range per connection at a time: a second range queued behind the first would be
        # merged with it into one span, fetching the days in between that the ledger has
        for lo, hi in ranges:
            futures: list[Future[SyncResult]] = [svc.submit(cid, lo, hi) for cid, *_ in syncable]
            for fut in futures:
                try:
                    results.append(fut.result())
                except CancelledError:
                    dropped = True  # the app is stopping
            if svc.stopping.is_set():
                break  # no new work: the ranges left are fetched at the next start
        else:
            complete = True
    finally:
        svc._finish_run(run_id, results, complete=complete and not dropped)
    return SyncRunResult(run_id, results)


def update_now(svc: SyncService, *, force: bool = False, progress: Progress | None = None) -> SyncRunResult:
    from services.sync.service import SyncRunResult

    rows = svc.store.connections()
    today_start = _local_midnight_utc(svc.clock)
    with svc.app.db.session() as s:
        last = dict(s.execute(select(Connection.id, Connection.last_sync_at)).tuples().all())
    chosen = []
    already = 0
    for row in rows:
        cid = row[0]
        when = last.get(cid)
        done_today = when is not None and when >= today_start
        if done_today and not force and not svc.is_busy(cid):
            already += 1
            continue
        chosen.append(row)
    if not chosen:
        return SyncRunResult(0, [], already_today=already)
    run = svc.sync_rows(chosen, None, None, trigger="manual", join_any=True, progress=progress)
    run.already_today = already
    return run


def _local_midnight_utc(clock: Clock) -> dt.datetime:
    """The start of today on this computer (by the app's clock), as the naive UTC the database keeps."""
    today = clock.today()
    zone = clock.local_now().tzinfo
    midnight = dt.datetime(today.year, today.month, today.day, tzinfo=zone)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)
