"""Macro expansion matches Grafana's documented MySQL expansions."""

from __future__ import annotations

import datetime as dt

import pytest

from services.reach.grafana_macros import expand_macros

FROM = dt.datetime(2017, 5, 10, 10, 6, 23, tzinfo=dt.UTC)  # 1494410783
TO = dt.datetime(2017, 5, 11, 10, 6, 23, tzinfo=dt.UTC)  # 1494497183


@pytest.mark.parametrize("sql,expected", [
    ("$__time(c)", "UNIX_TIMESTAMP(c) as time_sec"),
    ("$__timeFilter(c)", "c BETWEEN FROM_UNIXTIME(1494410783) AND FROM_UNIXTIME(1494497183)"),
    ("$__timeFrom()", "FROM_UNIXTIME(1494410783)"),
    ("$__timeTo()", "FROM_UNIXTIME(1494497183)"),
    ("$__timeGroup(c, '5m')", "UNIX_TIMESTAMP(c) DIV 300 * 300"),
    ("$__timeGroup(c, 5m, 0)", "UNIX_TIMESTAMP(c) DIV 300 * 300"),
    ("$__timeGroupAlias(c, 1h)", 'UNIX_TIMESTAMP(c) DIV 3600 * 3600 AS "time"'),
    ("$__unixEpochFilter(e)", "e >= 1494410783 AND e <= 1494497183"),
    ("$__unixEpochGroupAlias(e, 1d)", 'e DIV 86400 * 86400 AS "time"'),
    ("$__unixEpochFrom() $__unixEpochTo()", "1494410783 1494497183"),
    ("$__timeGroupAlias(c, $__interval)", 'UNIX_TIMESTAMP(c) DIV 120 * 120 AS "time"'),
    ("$__interval_ms", "120000"),
])
def test_documented_expansions(sql: str, expected: str) -> None:
    assert expand_macros(sql, FROM, TO, "2m") == expected


def test_variables_are_quoted_like_grafana_does() -> None:
    sql = "code = ${patient:sqlstring} OR code = '$patient' OR code IN (${many:sqlstring})"
    out = expand_macros(sql, FROM, TO, variables={"patient": "O'Brien", "many": ["a", "b"]})
    assert out == "code = 'O''Brien' OR code = 'O'Brien' OR code IN ('a','b')"


def test_unknown_macro_and_restricted_functions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown macro"):
        expand_macros("$__nope(x)", FROM, TO)
    with pytest.raises(ValueError, match="refuses"):
        expand_macros("SELECT user() FROM t", FROM, TO)
