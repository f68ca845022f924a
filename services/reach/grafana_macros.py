"""Grafana's MySQL query interpolation, done the way Grafana documents and implements it, so the
dashboards' SQL can be run and checked against a real database without a Grafana server.

Order, as in Grafana: dashboard variables first (in the browser: `$__interval`, `$patient`,
`${patient:sqlstring}`), then the data source's macros on the server (`$__timeFilter(col)` ->
`col BETWEEN FROM_UNIXTIME(from) AND FROM_UNIXTIME(to)`, `$__timeGroupAlias(col, 5m)` ->
`UNIX_TIMESTAMP(col) DIV 300 * 300 AS "time"`, `$__unixEpochFilter(col)` -> `col >= from AND
col <= to`, ...). FROM_UNIXTIME/UNIX_TIMESTAMP follow the session time zone, which our data source
sets to UTC (`jsonData.timezone`), matching the naive-UTC DATETIME columns.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
# Grafana refuses queries that ask who the database user is.
_RESTRICTED = re.compile(
    r"(?im)(\s*show\s+grants|[\s,]session_user\([^)]*\)|[\s,]current_user(\([^)]*\))?|"
    r"[\s,]system_user\([^)]*\)|[\s,]user\([^)]*\))([\s,;]|$)"
)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}

VariableValue = str | Sequence[str]


def parse_interval(text: str) -> float:
    """Seconds in a Grafana interval such as 30s, 5m, 1h, 1d."""
    m = re.fullmatch(r"\s*'?(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)'?\s*", text)
    if not m:
        raise ValueError(f"not a Grafana interval: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _num(seconds: float) -> str:
    return str(int(seconds)) if seconds == int(seconds) else repr(seconds)


def _epoch(t: dt.datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp())


def _sqlstring(value: VariableValue) -> str:
    values = [value] if isinstance(value, str) else list(value)
    return ",".join("'" + v.replace("'", "''") + "'" for v in values)


def interpolate_variables(sql: str, variables: Mapping[str, VariableValue], interval: str) -> str:
    """Dashboard variables, as the SQL data sources format them."""
    seconds = parse_interval(interval)
    sql = sql.replace("$__interval_ms", _num(seconds * 1000)).replace("$__interval", interval)
    for name, value in variables.items():
        sql = sql.replace("${" + name + ":sqlstring}", _sqlstring(value))
        # the SQL data sources' default: a single value as is, several values quoted and joined
        plain = value if isinstance(value, str) else _sqlstring(value)
        sql = sql.replace("${" + name + "}", plain)
        sql = re.sub(r"\$" + re.escape(name) + r"\b", plain.replace("\\", "\\\\"), sql)
    return sql


def expand_macros(
    sql: str,
    time_from: dt.datetime,
    time_to: dt.datetime,
    interval: str = "1m",
    variables: Mapping[str, VariableValue] | None = None,
) -> str:
    """The SQL Grafana would send to MySQL for this panel query."""
    sql = interpolate_variables(sql, variables or {}, interval)
    if _RESTRICTED.search(sql):
        raise ValueError("Grafana refuses queries using SHOW GRANTS or user()/current_user()")
    start, end = _epoch(time_from), _epoch(time_to)
    sql = sql.replace("$__unixEpochFrom()", str(start)).replace("$__unixEpochTo()", str(end))

    def macro(m: re.Match[str]) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        return _evaluate(name, args, start, end)

    return _MACRO.sub(macro, sql)


def _evaluate(name: str, args: list[str], start: int, end: int) -> str:
    col = args[0] if args and args[0] else None
    if name in ("__time", "__timeEpoch"):
        return f"UNIX_TIMESTAMP({_need(col, name)}) as time_sec"
    if name == "__timeFilter":
        return f"{_need(col, name)} BETWEEN FROM_UNIXTIME({start}) AND FROM_UNIXTIME({end})"
    if name == "__timeFrom":
        return f"FROM_UNIXTIME({start})"
    if name == "__timeTo":
        return f"FROM_UNIXTIME({end})"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise ValueError(f"macro {name} needs a time column and an interval")
        s = _num(round(parse_interval(args[1].strip("'\""))))
        out = f"UNIX_TIMESTAMP({_need(col, name)}) DIV {s} * {s}"
        return out + ' AS "time"' if name.endswith("Alias") else out
    if name == "__unixEpochFilter":
        c = _need(col, name)
        return f"{c} >= {start} AND {c} <= {end}"
    if name == "__unixEpochNanoFilter":
        c = _need(col, name)
        return f"{c} >= {start * 10**9} AND {c} <= {end * 10**9}"
    if name == "__unixEpochNanoFrom":
        return str(start * 10**9)
    if name == "__unixEpochNanoTo":
        return str(end * 10**9)
    if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
        if len(args) < 2:
            raise ValueError(f"macro {name} needs a time column and an interval")
        s = _num(parse_interval(args[1].strip("'")))
        out = f"{_need(col, name)} DIV {s} * {s}"
        return out + ' AS "time"' if name.endswith("Alias") else out
    raise ValueError(f"unknown macro ${name}")


def _need(col: str | None, name: str) -> str:
    if not col:
        raise ValueError(f"missing time column argument for macro {name}")
    return col
