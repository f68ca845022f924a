"""Withings: sleep summary/detail, measures and the account's devices, HTTP 200 with a ``status`` envelope."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from .core import Request, Response
from .model import SandboxUser, WithingsNight, stable_int, to_local, withings_measure, withings_night, zone

if TYPE_CHECKING:
    from .server import SandboxServer

STATE = {"AWAKE": 0, "LIGHT": 1, "DEEP": 2, "REM": 3, "ASLEEP": 1, "RESTLESS": 1}
SUMMARY_FIELDS = (
    "total_sleep_time",
    "total_timeinbed",
    "deepsleepduration",
    "lightsleepduration",
    "remsleepduration",
    "wakeupduration",
    "wakeupcount",
    "durationtosleep",
    "durationtowakeup",
    "sleep_efficiency",
    "sleep_latency",
    "hr_average",
    "hr_min",
    "hr_max",
    "rr_average",
    "rr_min",
    "rr_max",
    "snoring",
    "snoringepisodecount",
    "sleep_score",
    "apnea_hypopnea_index",
    "breathing_disturbances_intensity",
    "wakeup_latency",
    "waso",
    "out_of_bed_count",
    "nb_rem_episodes",
)
DETAIL_FIELDS = ("hr", "rr", "snoring")
SLEEP_ANALYZER_MODEL = 32
# getdevice: (type, model, model_id) as Withings' reference lists them, by the sandbox's device name
DEVICE_MODELS = {
    "Sleep Analyzer": ("Sleep Monitor", "Aura Sensor V2", 63),
    "Body+": ("Scale", "Body+", 5),
}


def envelope(status: int, body: dict[str, Any] | None = None, error: str | None = None) -> Response:
    out: dict[str, Any] = {"status": status, "body": body if body is not None else {}}
    if error:
        out["error"] = error
    return Response.json_body(out)


def _int(req: Request, name: str) -> int | None:
    raw = req.param(name)
    if raw in (None, ""):
        return None
    return int(raw)


def _summary_data(night: WithingsNight) -> dict[str, Any]:
    sess = night.session
    dur: dict[str, int] = {}
    for st in sess.stages:
        dur[st.kind] = dur.get(st.kind, 0) + st.end - st.start
    light = dur.get("LIGHT", 0) + dur.get("ASLEEP", 0) + dur.get("RESTLESS", 0)
    deep, rem = dur.get("DEEP", 0), dur.get("REM", 0)
    awake = dur.get("AWAKE", 0)
    tst = light + deep + rem
    latency = (
        sess.stages[0].end - sess.stages[0].start if sess.stages and sess.stages[0].kind == "AWAKE" else 0
    )
    # awake at the end of the night (between waking up and getting out of bed): the last stage when it
    # is awake, else a few invented minutes
    trailing = (
        sess.stages[-1].end - sess.stages[-1].start
        if len(sess.stages) > 1 and sess.stages[-1].kind == "AWAKE"
        else 0
    )
    wake_latency = trailing or 60 * (1 + stable_int(sess.start, "wake-up latency", modulo=12))
    hrs = [v for _, v in night.hr] or [0]
    rrs = [v for _, v in night.rr] or [0]
    snore = [v for _, v in night.snoring]
    data: dict[str, Any] = {
        "total_sleep_time": tst,
        "total_timeinbed": sess.end - sess.start,
        "deepsleepduration": deep,
        "lightsleepduration": light,
        "remsleepduration": rem,
        "wakeupduration": awake,
        "wakeupcount": sum(1 for s in sess.stages[1:] if s.kind == "AWAKE"),
        "durationtosleep": latency,
        "durationtowakeup": wake_latency,
        "wakeup_latency": wake_latency,
        "waso": max(0, awake - latency - trailing),
        "out_of_bed_count": stable_int(sess.start, "out of bed", modulo=3),
        "nb_rem_episodes": sum(1 for s in sess.stages if s.kind == "REM"),
        "sleep_efficiency": round(tst / max(1, sess.end - sess.start), 2),
        "sleep_latency": latency,
        "hr_average": round(sum(hrs) / len(hrs)),
        "hr_min": min(hrs),
        "hr_max": max(hrs),
        "rr_average": round(sum(rrs) / len(rrs)),
        "rr_min": min(rrs),
        "rr_max": max(rrs),
        "snoring": sum(snore),
        "snoringepisodecount": sum(1 for v in snore if v),
        "sleep_score": night.sleep_score,
        "apnea_hypopnea_index": night.ahi,
        "breathing_disturbances_intensity": night.ahi * 3,
    }
    for name in night.missing:
        data.pop(name, None)
    return data


def _nights(sb: SandboxServer, user: SandboxUser) -> list[WithingsNight]:
    last = user.last_sync_epoch
    out = []
    for d in user.data_days():
        night = withings_night(sb.seed, user.username, user.timezone, d)
        if night.session.end <= last:
            out.append(night)
    return out


def _series_item(user: SandboxUser, night: WithingsNight, fields: list[str] | None) -> dict[str, Any]:
    sess = night.session
    data = _summary_data(night)
    if fields is not None:
        data = {k: v for k, v in data.items() if k in fields}
    return {
        "id": stable_int(user.username, sess.day, modulo=10**10),
        "timezone": user.timezone,
        "model": SLEEP_ANALYZER_MODEL,
        "model_id": 63,
        "hash_deviceid": _device_hash(user),
        "startdate": sess.start,
        "enddate": sess.end,
        "date": sess.day.isoformat(),
        "created": sess.end + 600,
        "modified": sess.end + 600,
        "data": data,
    }


def _device_hash(user: SandboxUser) -> str:
    return f"{stable_int(user.username, user.device, modulo=16**40):040x}"


def handle_api(sb: SandboxServer, req: Request) -> Response:
    tok, problem = sb.auth.check_access("withings", req.bearer() or req.param("access_token"))
    if problem:
        return envelope(
            401, error="XRequestID: Not provided invalid_token: The access token provided is invalid"
        )
    assert tok is not None
    user = sb.user("withings", tok.username)
    if user is None:
        return envelope(401, error="invalid_token")
    resp = _dispatch(sb, req, user, tok.scopes)
    resp.username = user.username
    return resp


def _dispatch(sb: SandboxServer, req: Request, user: SandboxUser, scopes: tuple[str, ...]) -> Response:
    if not sb.take_withings_quota(user.username):
        return envelope(601, error="Too Many Requests")
    action = req.param("action")
    try:
        if req.path == "/v2/sleep" and action == "getsummary":
            if "user.activity" not in scopes and "user.sleepevents" not in scopes:
                return envelope(214, error="Unauthorized: scope")
            return _getsummary(sb, req, user)
        if req.path == "/v2/sleep" and action == "get":
            if "user.activity" not in scopes and "user.sleepevents" not in scopes:
                return envelope(214, error="Unauthorized: scope")
            return _get(sb, req, user)
        if req.path == "/measure" and action == "getmeas":
            if "user.metrics" not in scopes:
                return envelope(214, error="Unauthorized: scope")
            return _getmeas(sb, req, user)
        if req.path == "/v2/user" and action == "getdevice":
            if "user.info" not in scopes:
                return envelope(214, error="Unauthorized: scope")
            return _getdevice(user)
    except ValueError as exc:
        return envelope(293, error=f"Invalid params: {exc}")
    return envelope(2555, error=f"Unknown service or action {req.path} {action}")


def _getsummary(sb: SandboxServer, req: Request, user: SandboxUser) -> Response:
    start_ymd, end_ymd = req.param("startdateymd"), req.param("enddateymd")
    lastupdate = _int(req, "lastupdate")
    nights = _nights(sb, user)
    if start_ymd and end_ymd:
        lo, hi = date.fromisoformat(start_ymd), date.fromisoformat(end_ymd)
        if hi < lo:
            raise ValueError("enddateymd before startdateymd")
        nights = [n for n in nights if lo <= n.session.day <= hi]
    elif lastupdate is not None:
        nights = [n for n in nights if n.session.end + 600 >= lastupdate]
    else:
        raise ValueError("startdateymd and enddateymd, or lastupdate, are required")
    raw_fields = req.param("data_fields")
    fields = [f.strip() for f in raw_fields.split(",") if f.strip()] if raw_fields else None
    offset_ = _int(req, "offset") or 0
    page = nights[offset_ : offset_ + sb.withings_page_size]
    more = offset_ + sb.withings_page_size < len(nights)
    return envelope(
        0,
        {
            "series": [_series_item(user, n, fields) for n in page],
            "more": more,
            "offset": offset_ + len(page) if more else 0,
        },
    )


def _get(sb: SandboxServer, req: Request, user: SandboxUser) -> Response:
    start, end = _int(req, "startdate"), _int(req, "enddate")
    if start is None or end is None:
        raise ValueError("startdate and enddate are required")
    if end < start or end - start > 86400:
        raise ValueError("startdate/enddate must span at most 24 hours")
    raw_fields = req.param("data_fields")
    fields = [f.strip() for f in raw_fields.split(",")] if raw_fields else list(DETAIL_FIELDS)
    series: list[dict[str, Any]] = []
    last = user.last_sync_epoch
    day0 = to_local(user.timezone, start).date() - timedelta(days=1)
    for i in range(4):
        d = day0 + timedelta(days=i)
        if not user.first_day <= d <= user.today:
            continue
        night = withings_night(sb.seed, user.username, user.timezone, d)
        if night.session.end > last:
            continue
        maps = {"hr": dict(night.hr), "rr": dict(night.rr), "snoring": dict(night.snoring)}
        for st in night.session.stages:
            if st.end <= start or st.start >= end:
                continue
            item: dict[str, Any] = {
                "startdate": st.start,
                "enddate": st.end,
                "state": STATE[st.kind],
                "model": "Sleep Analyzer",
                "model_id": 63,
                "hash_deviceid": _device_hash(user),
            }
            for name in DETAIL_FIELDS:
                if name in fields:
                    item[name] = {str(t): v for t, v in maps[name].items() if st.start <= t < st.end}
            series.append(item)
    return envelope(0, {"series": series, "model": SLEEP_ANALYZER_MODEL})


def _getmeas(sb: SandboxServer, req: Request, user: SandboxUser) -> Response:
    types_raw = req.param("meastypes") or req.param("meastype")
    types = {int(t) for t in types_raw.split(",")} if types_raw else {1, 11}
    start, end, lastupdate = _int(req, "startdate"), _int(req, "enddate"), _int(req, "lastupdate")
    category = _int(req, "category") or 1
    groups: list[dict[str, Any]] = []
    if category == 1:
        for d in user.data_days():
            m = withings_measure(sb.seed, user.username, user.timezone, d)
            if m is None or m.epoch > user.last_sync_epoch:
                continue
            if (start is not None and m.epoch < start) or (end is not None and m.epoch > end):
                continue
            if lastupdate is not None and m.epoch + 60 < lastupdate:
                continue
            measures = []
            if 1 in types:
                measures.append({"value": m.weight_g, "type": 1, "unit": -3, "algo": 0, "fm": 1})
            if 11 in types:
                measures.append({"value": m.pulse, "type": 11, "unit": 0, "algo": 0, "fm": 1})
            if measures:
                groups.append(
                    {
                        "grpid": stable_int(user.username, m.epoch, modulo=10**10),
                        "attrib": 0,
                        "date": m.epoch,
                        "created": m.epoch + 60,
                        "modified": m.epoch + 60,
                        "category": 1,
                        "deviceid": _device_hash(user),
                        "hash_deviceid": _device_hash(user),
                        "measures": measures,
                        "modelid": 13,
                        "model": "Body+",
                        "comment": None,
                        "timezone": user.timezone,
                    }
                )
    groups.sort(key=lambda g: g["date"], reverse=True)
    offset_ = _int(req, "offset") or 0
    page = groups[offset_ : offset_ + sb.withings_page_size]
    more = offset_ + sb.withings_page_size < len(groups)
    return envelope(
        0,
        {
            "updatetime": user.last_sync_epoch,
            "timezone": user.timezone,
            "measuregrps": page,
            "more": 1 if more else 0,
            "offset": offset_ + len(page) if more else 0,
        },
    )


def battery_word(level: int) -> str:
    """Withings reports the battery as a word: high (> 75 %), medium (> 30 %) or low."""
    return "high" if level > 75 else "medium" if level > 30 else "low"


def _getdevice(user: SandboxUser) -> Response:
    """User v2 - Getdevice: the account's one device; `last_session_date` is its last sync
    (`srv.set_device_sync()` moves it, and nothing after it is visible in the data calls)."""
    kind, model, model_id = DEVICE_MODELS.get(user.device, ("Sleep Monitor", user.device, 63))
    first = datetime.combine(user.first_day, time(21, 0), zone(user.timezone))
    return envelope(0, {"devices": [{
        "type": kind,
        "model": model,
        "model_id": model_id,
        "battery": battery_word(user.battery_level),
        "deviceid": _device_hash(user),
        "hash_deviceid": _device_hash(user),
        "timezone": user.timezone,
        "first_session_date": int(first.timestamp()),
        "last_session_date": user.last_sync_epoch,
    }]})
