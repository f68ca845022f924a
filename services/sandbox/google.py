"""Google Health API v4 (Fitbit devices) as documented in VENDORS.md."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from .core import GOOGLE_SCOPES, Request, Response, rfc3339
from .model import (
    SandboxUser,
    SleepSession,
    day_data,
    local_epoch,
    sleeps_ending_on,
    to_local,
    utc_offset_seconds,
)

if TYPE_CHECKING:
    from .server import SandboxServer

# data type -> (json key, scope, max range days, default page size, max page size)
DATA_TYPES: dict[str, tuple[str, str, int, int, int]] = {
    "steps": ("steps", GOOGLE_SCOPES["activity"], 90, 1440, 10000),
    "heart-rate": ("heartRate", GOOGLE_SCOPES["metrics"], 14, 1440, 10000),
    "daily-resting-heart-rate": ("dailyRestingHeartRate", GOOGLE_SCOPES["metrics"], 90, 1440, 10000),
    "sleep": ("sleep", GOOGLE_SCOPES["sleep"], 90, 25, 25),
}
# documented filter fields per type -> value kind ("civil" local datetime, "physical" instant, "date")
FILTER_FIELDS: dict[str, dict[str, str]] = {
    "steps": {"steps.interval.civil_start_time": "civil", "steps.interval.start_time": "physical"},
    "heart-rate": {
        "heart_rate.sample_time.civil_time": "civil",
        "heart_rate.sample_time.physical_time": "physical",
    },
    "daily-resting-heart-rate": {"daily_resting_heart_rate.date": "date"},
    "sleep": {"sleep.interval.end_time": "physical", "sleep.interval.civil_end_time": "civil"},
}


def error(code: int, status: str, message: str, **headers: str) -> Response:
    return Response.json_body(
        {"error": {"code": code, "status": status, "message": message, "details": []}}, code, **headers
    )


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: str
    kind: str
    op: str  # ">=" or "<"
    value: Any  # datetime (naive civil), float (epoch), date


_COND = re.compile(r"""^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|!=|=|>|<)\s*("[^"]*"|'[^']*'|\S+)\s*$""")


def parse_filter(data_type: str, text: str) -> list[Condition]:
    """Parse the documented filter subset: ``field >= "v" AND field < "v"``; anything else is an error."""
    fields = FILTER_FIELDS[data_type]
    conds: list[Condition] = []
    if not text.strip():
        return conds
    for part in re.split(r"\s+AND\s+", text.strip()):
        m = _COND.match(part)
        if not m:
            raise FilterError(f"Invalid filter expression: {part!r}")
        name, op, raw = m.groups()
        if name not in fields:
            raise FilterError(
                f"Invalid filter field {name!r} for data type {data_type!r}; allowed: "
                + ", ".join(sorted(fields))
            )
        if op not in (">=", "<"):
            raise FilterError(f"Unsupported operator {op!r}; only >= and < are supported")
        if raw[:1] in "\"'" and raw[-1:] == raw[:1] and len(raw) >= 2:
            raw = raw[1:-1]
        kind = fields[name]
        try:
            value: Any
            if kind == "date":
                value = date.fromisoformat(raw)
            elif kind == "civil":
                value = datetime.fromisoformat(raw)
                if value.tzinfo is not None:
                    raise ValueError("civil time must not carry an offset")
            else:
                dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                if dt.tzinfo is None:
                    raise ValueError("physical time needs Z or an offset")
                value = dt.timestamp()
        except ValueError as exc:
            raise FilterError(f"Invalid value {raw!r} for {name}: {exc}") from exc
        conds.append(Condition(name, kind, op, value))
    return conds


def check_range(conds: list[Condition], max_days: int) -> None:
    by_field: dict[str, dict[str, Any]] = {}
    for c in conds:
        by_field.setdefault(c.field, {})[c.op] = c.value
    for name, ops in by_field.items():
        if ">=" in ops and "<" in ops:
            lo, hi = ops[">="], ops["<"]
            span = (
                (hi - lo) / 86400
                if isinstance(lo, float)
                else (hi - lo).total_seconds() / 86400
                if isinstance(lo, datetime)
                else (hi - lo).days
            )
            if span > max_days:
                raise FilterError(f"The time range of {name} exceeds the maximum of {max_days} days")


def civil(dt: datetime) -> dict[str, Any]:
    d = {k: v for k, v in (("year", dt.year), ("month", dt.month), ("day", dt.day)) if v}
    t = {k: v for k, v in (("hours", dt.hour), ("minutes", dt.minute), ("seconds", dt.second)) if v}
    return {"date": d, "time": t}


def civil_date(d: date) -> dict[str, int]:
    return {"year": d.year, "month": d.month, "day": d.day}


def offset(tz: str, epoch: float) -> str:
    return f"{utc_offset_seconds(tz, epoch)}s"


def interval(tz: str, start: int, end: int) -> dict[str, Any]:
    return {
        "startTime": rfc3339(start),
        "endTime": rfc3339(end),
        "startUtcOffset": offset(tz, start),
        "endUtcOffset": offset(tz, end),
        "civilStartTime": civil(to_local(tz, start).replace(tzinfo=None)),
        "civilEndTime": civil(to_local(tz, end).replace(tzinfo=None)),
    }


def naive_local(tz: str, epoch: float) -> datetime:
    return to_local(tz, epoch).replace(tzinfo=None)


@dataclass
class Item:
    sort_key: float  # newest first
    values: dict[str, Any]  # filter kind -> comparable value
    render: Callable[[], dict[str, Any]]


def _matches(item: Item, conds: list[Condition]) -> bool:
    for c in conds:
        v = item.values[c.kind]
        if c.op == ">=" and not v >= c.value:
            return False
        if c.op == "<" and not v < c.value:
            return False
    return True


def _candidate_days(user: SandboxUser, conds: list[Condition], slack: int = 1) -> list[date]:
    lo, hi = user.first_day, user.today
    for c in conds:
        if c.kind == "date":
            d = c.value
        elif c.kind == "civil":
            d = c.value.date()
        else:
            d = to_local(user.timezone, c.value).date()
        if c.op == ">=":
            lo = max(lo, d - timedelta(days=slack))
        else:
            hi = min(hi, d + timedelta(days=slack))
    out = []
    d = lo
    while d <= hi:
        out.append(d)
        d += timedelta(days=1)
    return out


def _source(user: SandboxUser) -> dict[str, Any]:
    return {"platform": "FITBIT", "device": {"manufacturer": "Google", "displayName": user.device}}


def _render_steps(tz: str, src: dict[str, Any], base: str, start: int, count: int) -> dict[str, Any]:
    return {
        "name": base + str(start),
        "dataSource": src,
        "steps": {"interval": interval(tz, start, start + 60), "count": str(count)},
    }


def _render_hr(tz: str, src: dict[str, Any], base: str, t: int, bpm: int) -> dict[str, Any]:
    return {
        "name": base + str(t),
        "dataSource": src,
        "heartRate": {
            "sampleTime": {
                "physicalTime": rfc3339(t),
                "utcOffset": offset(tz, t),
                "civilTime": civil(naive_local(tz, t)),
            },
            "beatsPerMinute": str(bpm),
        },
    }


def _render_rhr(src: dict[str, Any], base: str, d: date, rhr: int) -> dict[str, Any]:
    return {
        "name": base + d.isoformat(),
        "dataSource": src,
        "dailyRestingHeartRate": {"date": civil_date(d), "beatsPerMinute": str(rhr)},
    }


def _render_sleep(tz: str, src: dict[str, Any], base: str, sess: SleepSession) -> dict[str, Any]:
    return {"name": base + str(sess.end), "dataSource": src, "sleep": _sleep_json(tz, sess)}


def _items(sb: SandboxServer, user: SandboxUser, data_type: str, conds: list[Condition]) -> list[Item]:
    tz = user.timezone
    seed = sb.seed
    last = user.last_sync_epoch
    src = _source(user)
    base = f"users/{user.user_id}/dataTypes/{data_type}/dataPoints/"
    items: list[Item] = []
    for d in _candidate_days(user, conds):
        if data_type == "steps":
            for start, count in day_data(seed, user.username, tz, d, user.wear_gaps).steps:
                if start + 60 <= last:
                    items.append(
                        Item(
                            start,
                            {"civil": naive_local(tz, start), "physical": float(start)},
                            partial(_render_steps, tz, src, base, start, count),
                        )
                    )
        elif data_type == "heart-rate":
            for t, bpm in day_data(seed, user.username, tz, d, user.wear_gaps).hr:
                if t <= last:
                    items.append(
                        Item(
                            t,
                            {"civil": naive_local(tz, t), "physical": float(t)},
                            partial(_render_hr, tz, src, base, t, bpm),
                        )
                    )
        elif data_type == "daily-resting-heart-rate":
            if local_epoch(tz, d + timedelta(days=1)) <= last:
                rhr = day_data(seed, user.username, tz, d, user.wear_gaps).resting_hr
                items.append(Item(local_epoch(tz, d), {"date": d}, partial(_render_rhr, src, base, d, rhr)))
        else:
            for sess in sleeps_ending_on(seed, user.username, tz, d):
                if sess.end <= last:
                    items.append(
                        Item(
                            sess.end,
                            {"civil": naive_local(tz, sess.end), "physical": float(sess.end)},
                            partial(_render_sleep, tz, src, base, sess),
                        )
                    )
    return [i for i in items if _matches(i, conds)]


def _sleep_json(tz: str, sess: SleepSession) -> dict[str, Any]:
    minutes: dict[str, int] = {}
    counts: dict[str, int] = {}
    for st in sess.stages:
        minutes[st.kind] = minutes.get(st.kind, 0) + (st.end - st.start) // 60
        counts[st.kind] = counts.get(st.kind, 0) + 1
    awake = minutes.get("AWAKE", 0)
    asleep = sum(v for k, v in minutes.items() if k != "AWAKE")
    return {
        "interval": interval(tz, sess.start, sess.end),
        "type": "CLASSIC" if sess.classic else "STAGES",
        "stages": [
            {"startTime": rfc3339(s.start), "endTime": rfc3339(s.end), "type": s.kind} for s in sess.stages
        ],
        "summary": {
            "minutesAsleep": str(asleep),
            "minutesAwake": str(awake),
            "minutesInSleepPeriod": str((sess.end - sess.start) // 60),
            "stagesSummary": [
                {"type": k, "minutes": str(minutes[k]), "count": str(counts[k])} for k in minutes
            ],
        },
        "metadata": {"mainSleep": not sess.nap, "nap": sess.nap},
    }


def _page_token(offset_: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset_, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, fingerprint: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["f"] != fingerprint or not isinstance(data["o"], int) or data["o"] < 0:
            raise ValueError
        return int(data["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FilterError("Invalid page token") from exc


_DATA_PATH = re.compile(r"^/v4/users/me/dataTypes/([A-Za-z0-9_-]+)/dataPoints$")


def handle_api(sb: SandboxServer, req: Request) -> Response:
    tok, problem = sb.auth.check_access("fitbit", req.bearer())
    if problem:
        msg = "Request had invalid authentication credentials. Expected OAuth 2 access token."
        return error(401, "UNAUTHENTICATED", msg, **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    assert tok is not None
    user = sb.user("fitbit", tok.username)
    if user is None:
        return error(401, "UNAUTHENTICATED", "Unknown user")
    if req.method != "GET":
        return _with(error(405, "INVALID_ARGUMENT", "Method not allowed"), user)
    if not sb.take_google_quota(user.username):
        return _with(
            error(
                429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests per minute per user'."
            ),
            user,
        )

    def need(scope: str) -> Response | None:
        if scope not in tok.scopes:
            return _with(
                error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes."), user
            )
        return None

    path = req.path
    if path == "/v4/users/me/identity":
        return _with(
            Response.json_body(
                {
                    "name": "users/me/identity",
                    "healthUserId": user.user_id,
                    "legacyUserId": user.legacy_user_id,
                }
            ),
            user,
        )
    if path == "/v4/users/me/settings":
        denied = need(GOOGLE_SCOPES["settings"])
        if denied:
            return denied
        now = sb.now()
        return _with(
            Response.json_body(
                {
                    "name": "users/me/settings",
                    "timeZone": user.timezone,
                    "utcOffset": offset(user.timezone, now),
                }
            ),
            user,
        )
    if path == "/v4/users/me/pairedDevices":
        denied = need(GOOGLE_SCOPES["settings"])
        if denied:
            return denied
        level = user.battery_level
        status = "HIGH" if level >= 60 else "MEDIUM" if level >= 25 else "LOW"
        dev_id = hashlib.sha256(f"{user.username}|{user.device}".encode()).hexdigest()[:12]
        return _with(
            Response.json_body(
                {
                    "pairedDevices": [
                        {
                            "name": f"users/me/pairedDevices/{dev_id}",
                            "deviceId": dev_id,
                            "deviceType": "TRACKER",
                            "deviceVersion": user.device,
                            "lastSyncTime": rfc3339(user.last_sync_epoch),
                            "batteryLevel": level,
                            "batteryStatus": status,
                        }
                    ]
                }
            ),
            user,
        )
    m = _DATA_PATH.match(path)
    if not m:
        return _with(error(404, "NOT_FOUND", f"Requested entity was not found: {path}"), user)
    data_type = m.group(1)
    if data_type not in DATA_TYPES:
        return _with(
            error(
                400,
                "INVALID_ARGUMENT",
                f"Invalid data type ID referenced in the parent data type collection: {data_type}",
            ),
            user,
        )
    _, scope, max_days, default_size, max_size = DATA_TYPES[data_type]
    denied = need(scope)
    if denied:
        return denied
    filter_text = req.param("filter") or ""
    try:
        conds = parse_filter(data_type, filter_text)
        check_range(conds, max_days)
        raw_size = req.param("pageSize")
        size = int(raw_size) if raw_size not in (None, "") else 0
        if size < 0:
            raise FilterError("pageSize must not be negative")
        size = min(size or default_size, max_size)
        fingerprint = hashlib.sha256(f"{data_type}|{filter_text}|{size}".encode()).hexdigest()[:12]
        token = req.param("pageToken")
        start = _read_token(token, fingerprint) if token else 0
    except ValueError as exc:
        return _with(error(400, "INVALID_ARGUMENT", str(exc)), user)
    items = _items(sb, user, data_type, conds)
    items.sort(key=lambda i: i.sort_key, reverse=True)
    page = items[start : start + size]
    body: dict[str, Any] = {"dataPoints": [i.render() for i in page]}
    if start + size < len(items):
        body["nextPageToken"] = _page_token(start + size, fingerprint)
    return _with(Response.json_body(body), user)


def _with(resp: Response, user: SandboxUser) -> Response:
    resp.username = user.username
    return resp
