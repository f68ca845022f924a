"""Fitbit devices through the Google Health API v4 with Google OAuth 2.0 (VENDORS.md).

Quirks handled here: PKCE S256 with `access_type=offline&prompt=consent`; granular consent (the
granted `scope` is checked, data types without their scope are skipped and reported); filters on
civil (local) times so a patient's day is fetched whole; newest-first paging with nextPageToken;
int64 values as JSON strings; the 14-day range limit of heart rate.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from services.connect.oauth.base import Endpoints, OAuth2Implementation, TokenSet
from services.vendors.base import (
    AccountInfo,
    DataType,
    DeviceInfo,
    FetchContext,
    MalformedPayload,
    RateLimited,
    Record,
    Records,
    ScopeDenied,
    Vendor,
)
from services.vendors.http import ApiClient
from services.vendors.times import as_int, local_date, offset_in, parse_duration_s, parse_instant

if TYPE_CHECKING:  # requests loads with the first call, not with the module (issue 15: start-up)
    import requests

log = logging.getLogger(__name__)

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
ACTIVITY = SCOPE_PREFIX + "googlehealth.activity_and_fitness.readonly"
METRICS = SCOPE_PREFIX + "googlehealth.health_metrics_and_measurements.readonly"
SLEEP = SCOPE_PREFIX + "googlehealth.sleep.readonly"
SETTINGS = SCOPE_PREFIX + "googlehealth.settings.readonly"
SCOPE_LABELS = {ACTIVITY: "activity (steps)", METRICS: "heart rate", SLEEP: "sleep", SETTINGS: "devices and time zone"}

STAGES = {"AWAKE": "wake", "LIGHT": "light", "DEEP": "deep", "REM": "rem", "ASLEEP": "asleep", "RESTLESS": "restless"}
ME = "/v4/users/me"


class GoogleOAuth(OAuth2Implementation):
    vendor = "fitbit"
    label = "Fitbit (Google)"
    scopes = (ACTIVITY, METRICS, SLEEP, SETTINGS)
    uses_pkce = True

    # Google's token endpoint is standard OAuth 2.0: no compliance hooks. Its quirks are in the consent
    # URL (requests-oauthlib has no hook there): PKCE S256 (uses_pkce) and offline access below.

    def extra_authorize_params(self) -> dict[str, str]:
        # offline + consent: Google sends a refresh token only then (again on re-consent)
        return {"access_type": "offline", "prompt": "consent"}

    def revoke(self, tokens: TokenSet) -> None:
        token = tokens.refresh_token or tokens.access_token
        resp = self.session.post(self.endpoints.revoke_url, data={"token": token}, timeout=self.timeout)
        if resp.status_code not in (200, 400):  # 400: already revoked or expired
            resp.raise_for_status()


class Fitbit(Vendor):
    name = "fitbit"
    scope_labels = SCOPE_LABELS
    label = "Fitbit"
    env_prefix = "FITBIT"
    client_owner = "Google"
    client_portal = "the Google Cloud console (APIs & Services → Credentials)"
    default_endpoints = Endpoints(
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        "https://health.googleapis.com",
        "https://oauth2.googleapis.com/revoke",
    )
    oauth_class = GoogleOAuth
    data_types = (
        DataType("steps", "steps", 7, ACTIVITY, continuous=True),
        DataType("heart_rate", "heart_rate", 7, METRICS, continuous=True),  # API max 14 days
        DataType("resting_heart_rate", "resting_heart_rate", 30, METRICS),
        DataType("sleep", "sleep_sessions", 30, SLEEP, writes=("sleep_stages",)),
    )

    def check_response(self, resp: requests.Response) -> Any:
        if resp.status_code == 429:
            # Google documents no Retry-After: back off with jitter
            raise RateLimited("Google asks us to slow down (quota).", None)
        return super().check_response(resp)

    # ------------------------------------------------------------------ account
    def after_connect(self, api: ApiClient, tokens: TokenSet, member_id: str) -> AccountInfo:
        ident = api.get(ME + "/identity")
        user_id = ident.get("healthUserId") if isinstance(ident, dict) else None
        if not user_id:
            raise MalformedPayload("Google did not say which account was connected.")
        missing = tuple(s for s in GoogleOAuth.scopes if s not in tokens.scopes)
        tz = self.current_timezone(api) if SETTINGS in tokens.scopes else None
        return AccountInfo(str(user_id), tz, missing)

    def current_timezone(self, api: ApiClient) -> str | None:
        try:
            settings = api.get(ME + "/settings")
        except ScopeDenied:
            return None
        tz = settings.get("timeZone") if isinstance(settings, dict) else None
        return str(tz) if tz else None

    def devices(self, api: ApiClient) -> list[DeviceInfo] | None:
        try:
            body = api.get(ME + "/pairedDevices")
        except ScopeDenied:
            return None
        out = []
        for d in body.get("pairedDevices", []) if isinstance(body, dict) else []:
            try:
                ext = str(d.get("deviceId") or d["name"].rsplit("/", 1)[-1])
                last = parse_instant(d["lastSyncTime"]) if d.get("lastSyncTime") else None
                out.append(DeviceInfo(ext, str(d.get("deviceType") or ""), str(d.get("deviceVersion") or ""),
                                      last, as_int(d.get("batteryLevel")), d.get("batteryStatus")))
            except (KeyError, ValueError, TypeError, AttributeError):
                log.warning("fitbit: skipped a paired device entry that could not be read")
        return out

    # ------------------------------------------------------------------ data
    def fetch(self, api: ApiClient, data_type: str, start: dt.date, end: dt.date, ctx: FetchContext) -> Records:
        rec = Records()
        lo, hi = start.isoformat(), (end + dt.timedelta(days=1)).isoformat()
        if data_type == "steps":
            f = "steps.interval.civil_start_time"
            rec.steps = self._collect("steps", f'{f} >= "{lo}T00:00:00" AND {f} < "{hi}T00:00:00"', 10000,
                                      "steps", _steps, api, start, end, ctx)
        elif data_type == "heart_rate":
            f = "heart_rate.sample_time.civil_time"
            rec.heart_rate = self._collect("heart-rate", f'{f} >= "{lo}T00:00:00" AND {f} < "{hi}T00:00:00"',
                                           10000, "heartRate", _heart_rate, api, start, end, ctx)
        elif data_type == "resting_heart_rate":
            f = "daily_resting_heart_rate.date"
            rec.resting_heart_rate = self._collect("daily-resting-heart-rate", f'{f} >= "{lo}" AND {f} < "{hi}"',
                                                   10000, "dailyRestingHeartRate", _resting, api, start, end, ctx)
        elif data_type == "sleep":
            f = "sleep.interval.civil_end_time"
            for sess in self._collect("sleep", f'{f} >= "{lo}T00:00:00" AND {f} < "{hi}T00:00:00"', 25,
                                      "sleep", _sleep, api, start, end, ctx):
                rec.sleep_stages.extend(sess.pop("_stages"))
                rec.sleep_sessions.append(sess)
        else:
            raise KeyError(data_type)
        return rec

    def _collect(
        self,
        type_id: str,
        flt: str,
        page_size: int,
        key: str,
        parse: Callable[[dict[str, Any], FetchContext], Record],
        api: ApiClient,
        start: dt.date,
        end: dt.date,
        ctx: FetchContext,
    ) -> list[Record]:
        out: list[Record] = []
        bad = 0
        for point in _pages(api, type_id, flt, page_size):
            try:
                row = parse(point[key], ctx)
            except (KeyError, TypeError, ValueError, AttributeError):
                bad += 1
                continue
            if start <= row["local_date"] <= end:
                out.append(row)
        if bad:
            log.warning("fitbit %s: skipped %d data points that could not be read", type_id, bad)
        return out


def _pages(api: ApiClient, type_id: str, flt: str, page_size: int) -> Iterator[dict[str, Any]]:
    token: str | None = None
    for _ in range(10_000):  # a bound, so a vendor bug repeating a token cannot loop forever
        params: dict[str, Any] = {"filter": flt, "pageSize": page_size}
        if token:
            params["pageToken"] = token
        body = api.get(f"{ME}/dataTypes/{type_id}/dataPoints", params)
        if not isinstance(body, dict) or not isinstance(body.get("dataPoints", []), list):
            raise MalformedPayload("Google sent a page of data that could not be read.")
        yield from (p for p in body.get("dataPoints", []) if isinstance(p, dict))
        token = body.get("nextPageToken") or None
        if not token:
            return


def _civil_date(civil: dict[str, Any]) -> dt.date:
    d = civil.get("date", civil)
    return dt.date(int(d["year"]), int(d.get("month", 1)), int(d.get("day", 1)))


def _steps(p: dict[str, Any], ctx: FetchContext) -> Record:
    iv = p["interval"]
    start = parse_instant(iv["startTime"])
    off = parse_duration_s(iv["startUtcOffset"])
    civil = iv.get("civilStartTime")
    steps = as_int(p["count"])
    if steps is None:
        raise ValueError("no count")
    return {
        "start_utc": start,
        "end_utc": parse_instant(iv["endTime"]),
        "utc_offset_s": off,
        "local_date": _civil_date(civil) if civil else local_date(start, off),
        "steps": steps,
    }


def _heart_rate(p: dict[str, Any], ctx: FetchContext) -> Record:
    st = p["sampleTime"]
    ts = parse_instant(st["physicalTime"])
    off = parse_duration_s(st["utcOffset"])
    bpm = as_int(p["beatsPerMinute"])
    if not bpm:
        raise ValueError("no bpm")
    civil = st.get("civilTime")
    return {
        "kind": "sample",
        "ts_utc": ts,
        "utc_offset_s": off,
        "local_date": _civil_date(civil) if civil else local_date(ts, off),
        "bpm": bpm,
    }


def _resting(p: dict[str, Any], ctx: FetchContext) -> Record:
    bpm = as_int(p["beatsPerMinute"])
    if not bpm:
        raise ValueError("no bpm")
    return {"local_date": _civil_date(p["date"]), "bpm": bpm}


def _sleep(p: dict[str, Any], ctx: FetchContext) -> Record:
    iv = p["interval"]
    start, end = parse_instant(iv["startTime"]), parse_instant(iv["endTime"])
    start_off = parse_duration_s(iv["startUtcOffset"])
    end_off = parse_duration_s(iv.get("endUtcOffset", iv["startUtcOffset"]))
    civil_end = iv.get("civilEndTime")
    day = _civil_date(civil_end) if civil_end else local_date(end, end_off)  # a night belongs to its morning
    summary = p.get("summary") or {}
    by_stage = {str(s.get("type")): as_int(s.get("minutes")) for s in summary.get("stagesSummary") or []}
    staged = p.get("type") == "STAGES"
    stages = []
    for s in p.get("stages") or []:
        s_start = parse_instant(s["startTime"])
        stages.append({
            "start_utc": s_start,
            "end_utc": parse_instant(s["endTime"]),
            # the zone's offset at the stage start when we know the zone (a DST change during the night)
            "utc_offset_s": offset_in(ctx.timezone, s_start, start_off),
            "local_date": day,
            "stage": STAGES.get(str(s["type"]), str(s["type"]).lower()[:12]),
        })
    meta = p.get("metadata") or {}
    return {
        "external_id": None,
        "start_utc": start,
        "end_utc": end,
        "utc_offset_s": start_off,
        "local_date": day,
        "is_main": bool(meta.get("mainSleep", not meta.get("nap", False))),
        "minutes_asleep": as_int(summary.get("minutesAsleep")),
        "minutes_awake": as_int(summary.get("minutesAwake")),
        "deep_minutes": by_stage.get("DEEP", 0) if staged else None,
        "light_minutes": by_stage.get("LIGHT", 0) if staged else None,
        "rem_minutes": by_stage.get("REM", 0) if staged else None,
        "_stages": stages,
    }
