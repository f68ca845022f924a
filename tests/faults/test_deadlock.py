"""InnoDB picks a download's transaction as a deadlock victim (two connections' downloads inserting
neighbouring coverage keys on MariaDB, found by the sync benchmark with 4 workers): the victim's
transaction is run again, the sync goes on. The deadlock is injected (error 1213 as PyMySQL raises it)
so the test is exact; on SQLite, as the handling does not depend on the dialect."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pymysql
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from db.models import Coverage, HeartRateSample
from services.sandbox import SandboxServer

from .conftest import connect


def deadlock_once_on(app: Any, *prefixes: str) -> list[str]:
    """Fail the first statement starting with each prefix with InnoDB's deadlock error."""
    hit: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        for p in prefixes:
            if statement.startswith(p) and p not in hit:
                hit.append(p)
                raise OperationalError(statement, params, pymysql.err.OperationalError(
                    1213, "Deadlock found when trying to get lock; try restarting transaction"))

    event.listen(app.db.engine, "before_cursor_execute", before)
    return hit


def test_a_deadlocked_ledger_reservation_and_chunk_write_are_run_again(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "P-DL", "fitbit", "anna").ok
    cid = int(lapp.connections.connection_id("P-DL", "fitbit"))
    hit = deadlock_once_on(lapp, "INSERT INTO coverage", "INSERT INTO heart_rate_samples")
    day = dt.date(2026, 11, 20)
    result = lapp.sync.sync_connection(cid, day, day)
    assert hit == ["INSERT INTO coverage", "INSERT INTO heart_rate_samples"], hit
    assert result.ok, result.summary
    with lapp.db.session() as s:
        statuses = set(s.scalars(select(Coverage.status).where(Coverage.connection_id == cid)))
        samples = s.scalar(select(HeartRateSample.patient_id).limit(1))
    assert statuses == {"complete"} and samples is not None
