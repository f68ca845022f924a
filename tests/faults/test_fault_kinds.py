"""Which database errors the sync waits out (the server went away) and which it reports at once
(the disk is full, the statement is wrong), and the sentence the coordinator reads for each; no
server needed, so these run everywhere, also where the private MariaDB tests skip."""

from __future__ import annotations

import sqlite3

import pymysql
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from db.engine import connection_lost
from services.failures import describe


def mysql_error(code: int, text: str, invalidated: bool = False) -> OperationalError:
    return OperationalError("INSERT ...", {}, pymysql.err.OperationalError(code, text),
                            connection_invalidated=invalidated)


@pytest.mark.parametrize("code", [2003, 2006, 2013, 1053])
def test_a_server_that_went_away_is_waited_for(code: int) -> None:
    assert connection_lost(mysql_error(code, "Lost connection to MySQL server during query"))


def test_an_invalidated_connection_is_waited_for() -> None:
    assert connection_lost(mysql_error(9999, "whatever the driver said", invalidated=True))


@pytest.mark.parametrize("exc", [
    mysql_error(1114, "The table 'heart_rate_samples' is full"),
    mysql_error(1205, "Lock wait timeout exceeded"),
    OperationalError("INSERT ...", {}, sqlite3.OperationalError("database or disk is full")),
    IntegrityError("INSERT ...", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")),
    ValueError("not a database error"),
])
def test_a_full_disk_or_a_wrong_statement_is_not_waited_for(exc: BaseException) -> None:
    assert not connection_lost(exc)


def test_a_full_database_server_is_named_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEARSYNC_DATABASE_URL", "mysql+pymysql://writer:s3cret@db.clinic.example/wearsync")
    text = describe(mysql_error(1114, "The table 'heart_rate_samples' is full")) or ""
    assert text.startswith("The database server") and "ran out of space" in text and "Free space" in text
    assert "s3cret" not in text
    gone = describe(mysql_error(2013, "Lost connection to MySQL server during query")) or ""
    assert "ran out of space" not in gone and "Check that the server is running" in gone
