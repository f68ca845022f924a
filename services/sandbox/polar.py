"""Polar AccessLink v3: user registration, exercises (snake_case, bare arrays), daily activity."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from .core import Request, Response, rfc3339
from .model import (
    Exercise,
    SandboxUser,
    day_data,
    polar_exercise,
    stable_int,
    to_local,
    utc_offset_seconds,
)

if TYPE_CHECKING:
    from .server import SandboxServer

EXERCISE_WINDOW_DAYS = 30
DETAILED_SPORT = {"RUNNING": "RUNNING_ROAD", "CYCLING": "CYCLING_ROAD", "WALKING": "WALKING"}


def error(sb: SandboxServer, status: int, error_type: str, message: str) -> Response:
    return Response.json_body(
        {
            "timestamp": sb.now_utc().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "status": status,
            "errorType": error_type,
            "message": message,
            "corrId": "sandbox",
        },
        status,
    )


def iso_duration(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s or not (h or m) else "")
    return out


def _maybe_str(ex: Exercise, value: Any) -> Any:
    return str(value) if ex.stringly else value


def exercise_json(
    sb: SandboxServer, user: SandboxUser, ex: Exercise, samples: bool, zones: bool
) -> dict[str, Any]:
    tz = user.timezone
    valid = [v for v in ex.hr_samples if v > 0]
    fat = 35 + stable_int(ex.id, "fat", modulo=30)
    protein = 1 + stable_int(ex.id, "protein", modulo=4)
    out: dict[str, Any] = {
        "id": ex.id,
        "upload_time": rfc3339(ex.upload),
        "polar_user": f"{sb.endpoints('polar')['api_url']}/v3/users/{user.user_id}",
        "device": user.device,
        "device_id": f"{int(user.user_id) % 0xFFFFFFFF:08X}",
        "start_time": to_local(tz, ex.start).replace(tzinfo=None).isoformat(),
        "start_time_utc_offset": _maybe_str(ex, utc_offset_seconds(tz, ex.start) // 60),
        "duration": iso_duration(ex.duration),
        "calories": _maybe_str(ex, ex.calories),
        "distance": ex.distance,
        "heart_rate": {
            "average": _maybe_str(ex, round(sum(valid) / len(valid))) if valid else None,
            "maximum": max(valid) if valid else None,
        },
        "training_load": round(ex.duration / 60 * 1.4, 1),
        "sport": ex.sport,
        "has_route": ex.sport in ("RUNNING", "CYCLING"),
        "detailed_sport_info": DETAILED_SPORT.get(ex.sport, ex.sport),
        "fat_percentage": fat,
        "carbohydrate_percentage": 100 - fat - protein,
        "protein_percentage": protein,
    }
    if ex.sport == "RUNNING":
        out["running_index"] = 38 + stable_int(ex.id, "running index", modulo=20)
    if samples:
        out["samples"] = [
            {"recording_rate": 1, "sample_type": "0", "data": ",".join(map(str, ex.hr_samples))}
        ]
    if zones:
        bounds = [(96, 115), (115, 134), (134, 153), (153, 172), (172, 191)]
        out["heart_rate_zones"] = [
            {
                "index": i + 1,
                "lower_limit": lo,
                "upper_limit": hi,
                "in_zone": iso_duration(sum(1 for v in valid if lo <= v < hi)),
            }
            for i, (lo, hi) in enumerate(bounds)
        ]
    return out


def _exercises(sb: SandboxServer, user: SandboxUser) -> list[Exercise]:
    window_start = user.today - timedelta(days=EXERCISE_WINDOW_DAYS - 1)
    out = []
    for d in user.data_days():
        if d < window_start:
            continue
        ex = polar_exercise(sb.seed, user.username, user.timezone, d)
        if ex is not None and ex.upload <= user.last_sync_epoch:
            out.append(ex)
    return out


def user_json(sb: SandboxServer, user: SandboxUser) -> dict[str, Any]:
    first, _, last = user.display_name.partition(" ")
    reg = user.registration_time or sb.now_utc()
    return {
        "polar-user-id": int(user.user_id),
        "member-id": user.member_id,
        "registration-date": reg.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "first-name": first,
        "last-name": last,
        "birthdate": "1980-01-01",
        "gender": "FEMALE",
        "weight": 70.0,
        "height": 172.0,
        "extra-info": [],
    }


_TRANSACTIONS = re.compile(r"^/v3/users/[^/]+/(exercise|activity|physical-information)-transactions(/.*)?$")


def handle_api(sb: SandboxServer, req: Request) -> Response:
    path = req.path
    if _TRANSACTIONS.match(path):
        return error(sb, 410, "gone", "Transaction endpoints were deprecated on 2025-08-18; use /v3/exercises")
    tok, problem = sb.auth.check_access("polar", req.bearer())
    if problem:
        return error(sb, 401, "unauthorized", "Invalid or expired access token")
    assert tok is not None
    user = sb.user("polar", tok.username)
    if user is None:
        return error(sb, 401, "unauthorized", "Unknown user")
    limited = sb.take_polar_quota()
    resp = (
        _dispatch(sb, req, user)
        if limited is None
        else error(sb, 429, "too_many_requests", "Rate limit exceeded")
    )
    resp.headers.update(sb.polar_rate_headers())
    resp.username = user.username
    return resp


def _dispatch(sb: SandboxServer, req: Request, user: SandboxUser) -> Response:
    path, method = req.path, req.method
    if path == "/v3/users" and method == "POST":
        member = req.json.get("member-id") if isinstance(req.json, dict) else None
        if not member:
            return error(sb, 400, "bad_request", "member-id is required")
        if not user.consents_accepted:
            return error(sb, 403, "forbidden", "User has not accepted all mandatory consents")
        if user.registered:
            return error(sb, 409, "conflict", "User already registered to partner")
        with sb.auth.lock:
            user.registered, user.member_id = True, str(member)
            user.registration_time = sb.now_utc().replace(microsecond=0)
        return Response.json_body(user_json(sb, user))
    m = re.match(r"^/v3/users/(\d+)$", path)
    if m:
        if m.group(1) != user.user_id:
            return error(sb, 403, "forbidden", "Token does not belong to this user")
        if not user.registered:
            return error(sb, 404, "not_found", "User not registered")
        if method == "GET":
            return Response.json_body(user_json(sb, user))
        if method == "DELETE":
            with sb.auth.lock:
                user.registered = False
            sb.auth.revoke_user("polar", user.username)
            return Response.empty(204)
        return error(sb, 405, "method_not_allowed", "Method not allowed")
    if not user.registered:
        return error(sb, 403, "forbidden", "User not registered; POST /v3/users first")
    if method != "GET":
        return error(sb, 405, "method_not_allowed", "Method not allowed")
    if path == "/v3/exercises":
        return Response.json_body([exercise_json(sb, user, ex, False, False) for ex in _exercises(sb, user)])
    m = re.match(r"^/v3/exercises/([A-Za-z0-9]+)$", path)
    if m:
        flag = {"true", "1", "yes"}
        for ex in _exercises(sb, user):
            if ex.id == m.group(1):
                return Response.json_body(
                    exercise_json(
                        sb, user, ex, (req.param("samples") or "") in flag, (req.param("zones") or "") in flag
                    )
                )
        return error(sb, 404, "not_found", "Exercise not found")
    if path == "/v3/users/activities":
        return _activities(sb, req, user)
    return error(sb, 404, "not_found", f"No such resource {path}")


def _activities(sb: SandboxServer, req: Request, user: SandboxUser) -> Response:
    try:
        lo = date.fromisoformat(req.param("from") or (user.today - timedelta(days=27)).isoformat())
        hi = date.fromisoformat(req.param("to") or user.today.isoformat())
    except ValueError:
        return error(sb, 400, "bad_request", "from/to must be YYYY-MM-DD")
    if hi < lo:
        return error(sb, 400, "bad_request", "'to' is before 'from'")
    out = []
    last = user.last_sync_epoch
    d = max(lo, user.first_day)
    while d <= min(hi, user.today):
        dd = day_data(sb.seed, user.username, user.timezone, d, user.wear_gaps)
        if dd.start < last:
            steps = [(t, c) for t, c in dd.steps if t + 60 <= last]
            total = sum(c for _, c in steps)
            active = sum(1 for _, c in steps if c >= 60) * 60
            out.append(
                {
                    "start_time": f"{d.isoformat()}T00:00:00",
                    "end_time": f"{d.isoformat()}T23:59:59",
                    "active_duration": iso_duration(active),
                    "inactive_duration": iso_duration(max(0, 57600 - active)),
                    "daily_activity": round(min(100.0, total / 100), 1),
                    "calories": 1700 + total // 20,
                    "active_calories": total // 20,
                    "steps": total,
                    "inactivity_alert_count": 0,
                    "distance_from_steps": round(total * 0.75, 1),
                }
            )
        d += timedelta(days=1)
    return Response.json_body(out)
