"""The disk fills up while a sync writes. SQLite: the database may not grow past a page limit
(`PRAGMA max_page_count`, the same SQLITE_FULL "database or disk is full" a full disk gives)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from services.failures import describe
from services.sandbox import SandboxServer

from .conftest import TIME_SERIES, connect, digest, ledger, undisturbed, wipe

D1, D4 = dt.date(2026, 11, 19), dt.date(2026, 11, 21)  # 3 days, in 1-day chunks


def pages(app: Any) -> int:
    with app.db.engine.connect() as c:
        return int(c.execute(text("PRAGMA page_count")).scalar_one())


def test_disk_full_mid_sync_keeps_whole_days_and_a_rerun_equals_an_undisturbed_sync(
        lapp: Any, srv: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards one transaction per chunk for rows AND coverage (services/sync/store.write_chunk): the
    write that finds the disk full rolls back with its coverage, so the day is not "complete" without
    its rows, and after space is freed the next run fills exactly the gap. With the coverage committed
    before the rows, the full chunk is marked done, the re-run skips it and the tables differ from an
    undisturbed sync. Also: the coordinator reads one plain sentence (services/failures.describe)."""
    from services.vendors.fitbit import Fitbit

    monkeypatch.setattr(Fitbit, "data_types", tuple(replace(t, chunk_days=1) for t in Fitbit.data_types))
    app = lapp
    assert connect(app, srv, "P-FULL", "fitbit", "anna").ok
    cid = int(app.connections.connection_id("P-FULL", "fitbit"))
    reference = undisturbed(app, cid, D1, D4)
    full_size = pages(app)
    wipe(app.db)
    with app.db.engine.connect() as c:
        c.exec_driver_sql("VACUUM")  # give the freed pages back: the file is as small as before the sync
    empty_size = pages(app)
    assert full_size - empty_size > 20
    limit = [empty_size + (full_size - empty_size) // 2]  # room for about half of the download

    def cap(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA max_page_count={limit[0]}")
        cur.close()

    event.listen(app.db.engine, "connect", cap)
    app.db.engine.dispose()  # every connection from now on has the limit
    with pytest.raises(OperationalError) as info:
        app.sync.sync_connection(cid, D1, D4)
    assert "full" in str(info.value.orig)
    message = describe(info.value) or ""
    assert message.startswith("The disk is full") and "Free some space" in message
    kept = digest(app.db)
    assert kept["step_intervals"][0] > 0 and kept != reference
    status = {(r[1], r[2]): (r[3], r[4]) for r in ledger(app.db)}
    for (dtype, day), (state, rows) in status.items():
        if state == "complete":  # a day marked done holds its rows
            table = {"steps": "step_intervals", "heart_rate": "heart_rate_samples"}.get(dtype)
            if table and rows:
                assert _rows_on(app, table, day) > 0, f"{dtype} {day} is complete without its rows"
    assert any(s == "missing" for s, _ in status.values()), "the chunk that hit the full disk stays to do"

    limit[0] = 1_000_000  # space freed
    app.db.engine.dispose()
    rerun = app.sync.sync_connection(cid, D1, D4)
    assert rerun.ok, rerun.summary
    assert digest(app.db) == reference


def _rows_on(app: Any, table: str, day: dt.date) -> int:
    with app.db.engine.connect() as c:
        return int(c.execute(text(f"SELECT COUNT(*) FROM {table} WHERE local_date = :d"), {"d": day}).scalar_one())


def _fill(server: Any) -> None:
    """Fill the server's (fixed-size) tablespace with another database's table until InnoDB says full."""
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE filler")
            cur.execute("CREATE TABLE filler.pad (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(1000)) ENGINE=InnoDB")
            cur.execute("USE filler")
            for batch in (1000, 100, 10, 1):
                while True:
                    try:
                        cur.execute("INSERT INTO pad (v) SELECT REPEAT('p', 1000) FROM seq_1_to_%s", (batch,))
                    except pymysql.err.OperationalError as exc:
                        assert exc.args[0] == 1114, exc
                        break
    finally:
        conn.close()


def test_mariadb_out_of_space_mid_sync_keeps_whole_days_and_a_rerun_equals_an_undisturbed_sync(
        private_mariadb: Any, srv: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on MariaDB: its tablespace is a fixed-size file that another database has filled, so
    InnoDB answers "The table ... is full" (1114) to the first write that needs a new page, as it does
    when its disk is full. Then the server is restarted with more room. Guards
    the same rule (rows and coverage in one transaction per chunk: with the coverage committed first,
    the day is "complete" without its rows and the re-run skips it) and the plain sentence for a
    full database server (services/failures.describe)."""
    from services.app import WearSync
    from services.vendors.fitbit import Fitbit
    from tests.connect.conftest import _wire

    monkeypatch.setattr(Fitbit, "data_types", tuple(replace(t, chunk_days=1) for t in Fitbit.data_types))
    base = ("--innodb-file-per-table=0", "--innodb-autoextend-increment=1")
    private_mariadb.start((*base, "--innodb-data-file-path=ibdata1:12M:autoextend"))
    monkeypatch.setenv("WEARSYNC_DATABASE_URL", private_mariadb.url)
    monkeypatch.setattr("services.schema.may_change_schema", lambda db: True)  # see private_app
    app = _wire(WearSync.open(), srv)
    try:
        assert connect(app, srv, "P-FULL", "fitbit", "anna").ok
        cid = int(app.connections.connection_id("P-FULL", "fitbit"))
        reference = undisturbed(app, cid, D1, D4)
        with app.db.engine.begin() as c:  # TRUNCATE, not DELETE: the pages go back to the tablespace
            for t in (*TIME_SERIES, "coverage"):
                c.exec_driver_sql(f"TRUNCATE TABLE {t}")
        mib, rest = divmod((private_mariadb.datadir / "ibdata1").stat().st_size, 1 << 20)
        assert rest == 0
        fixed = f"ibdata1:{mib}M;ibdata2:4M"  # no growing
        private_mariadb.restart(extra=(*base, f"--innodb-data-file-path={fixed}"))
        _fill(private_mariadb)
        with pytest.raises(OperationalError) as info:
            app.sync.sync_connection(cid, D1, D4)
        assert info.value.orig.args[0] == 1114, info.value
        message = describe(info.value) or ""
        assert "ran out of space" in message and "Traceback" not in message
        # a day's steps may still fit in a page the table already has; the first page split finds no room
        assert digest(app.db) != reference
        status = {(r[1], r[2]): (r[3], r[4]) for r in ledger(app.db)}
        for (dtype, day), (state, rows) in status.items():
            table = {"steps": "step_intervals", "heart_rate": "heart_rate_samples"}.get(dtype)
            if state == "complete" and table and rows:
                assert _rows_on(app, table, day) > 0, f"{dtype} {day} is complete without its rows"
        assert any(s == "missing" for s, _ in status.values()), "the chunk that found no room stays to do"

        private_mariadb.restart(extra=(*base, f"--innodb-data-file-path={fixed};ibdata3:10M:autoextend"))
        rerun = app.sync.sync_connection(cid, D1, D4)
        assert rerun.ok, rerun.summary
        assert digest(app.db) == reference
    finally:
        app.close()
