"""Polar AccessLink v3 (H10 strap via Polar Flow): exercises with heart-rate samples, daily activity.

Quirks handled here: HTTP Basic client authentication and no refresh token (a token lasts about a
year, then the patient consents again); the mandatory `POST /v3/users` registration after consent,
where 409 means "already registered" and is fine for the same account; the non-transactional
endpoints (the transaction ones are deprecated) answering in snake_case, sometimes with numbers as
strings (kebab-case spellings are read too); local start time + UTC offset in minutes; ISO 8601
durations; heart-rate sample 0 = no signal, not a value; RateLimit-Reset on 429.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from services.connect.oauth.base import Endpoints, OAuth2Implementation, TermsNotAccepted, TokenSet
from services.vendors.base import (
    AccountInfo,
    DataType,
    FetchContext,
    MalformedPayload,
    Record,
    Records,
    ScopeDenied,
    Vendor,
    VendorRejected,
)
from services.vendors.http import ApiClient
from services.vendors.times import as_float, as_int, local_date

if TYPE_CHECKING:  # requests and oauthlib load with the first call, not with the module (issue 15)
    import requests
    from requests_oauthlib import OAuth2Session

log = logging.getLogger(__name__)

HR_SAMPLE_TYPE = "0"
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$")


def iso_duration_s(raw: Any) -> int:
    m = _DURATION.match(str(raw).strip())
    if not m:
        raise ValueError("not an ISO 8601 duration")
    d, h, mi, s = m.groups()
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + round(float(s or 0))


def field(d: dict[str, Any], snake: str) -> Any:
    """A key in snake_case, or its kebab-case spelling (transactional documents)."""
    if snake in d:
        return d[snake]
    return d.get(snake.replace("_", "-"))


# --------------------------------------------------------------------------- OAuth compliance hooks
# Polar's token endpoint accepts the client credentials only as HTTP Basic, and names the account
# `x_user_id` in its answer. These hooks (requests-oauthlib compliance hooks) adapt the standard
# request and answer to that.


def basic_client_auth(url: str, headers: dict[str, str], request_kwargs: dict[str, Any]
                      ) -> tuple[str, dict[str, str], dict[str, Any]]:
    """access_token_request hook: move client_id/client_secret from the form into an HTTP Basic header."""
    data = dict(request_kwargs.get("data", {}))
    client_id, secret = str(data.pop("client_id", "")), str(data.pop("client_secret", ""))
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
    request_kwargs["data"] = data
    return url, {**headers, "Authorization": f"Basic {pair}"}, request_kwargs


def name_the_account(resp: requests.Response) -> requests.Response:
    """access_token_response hook: `x_user_id` is the account's id (`user_id` for WearSync)."""
    body = resp.json()
    if isinstance(body, dict) and body.get("x_user_id") is not None:
        body["user_id"] = str(body["x_user_id"])
        resp._content = json.dumps(body).encode("utf-8")
    return resp


class PolarOAuth(OAuth2Implementation):
    vendor = "polar"
    label = "Polar"
    scopes = ("accesslink.read_all",)
    supports_refresh = False  # no refresh token: a token lasts about a year, then the patient consents again

    def comply(self, session: OAuth2Session) -> None:
        session.register_compliance_hook("access_token_request", basic_client_auth)
        session.register_compliance_hook("access_token_response", name_the_account)

    def revoke(self, tokens: TokenSet) -> None:
        # de-registering the user also revokes the token
        if not tokens.user_id:
            return
        resp = self.session.delete(f"{self.endpoints.revoke_url}/{tokens.user_id}", timeout=self.timeout,
                                   headers={"Authorization": f"Bearer {tokens.access_token}"})
        if resp.status_code not in (200, 204, 401, 404):  # 401/404: already gone
            resp.raise_for_status()


class Polar(Vendor):
    name = "polar"
    label = "Polar"
    env_prefix = "POLAR"
    client_owner = "Polar"
    client_portal = "admin.polaraccesslink.com"
    no_new_data_advice = "check the strap is worn and synced with the Polar Flow app."  # no device sync reported
    default_endpoints = Endpoints(
        "https://flow.polar.com/oauth2/authorization",
        "https://polarremote.com/v2/oauth2/token",
        "https://www.polaraccesslink.com",
        "https://www.polaraccesslink.com/v3/users",
    )
    oauth_class = PolarOAuth
    history_from_connection = True
    keeps_days = 30  # GET /v3/exercises lists the last 30 days: older data cannot be downloaded any more
    registers_users = True
    data_types = (
        DataType("exercises", "exercises", 30, None, writes=("heart_rate",)),
        DataType("daily_activity", "daily_activity", 28, None),
    )

    def retry_after(self, resp: requests.Response) -> float | None:
        # "RateLimit-Reset: 312, 40000": seconds until each window (15 min, 24 h) resets; wait for the
        # window that is used up
        reset = _numbers(resp.headers.get("RateLimit-Reset"))
        usage = _numbers(resp.headers.get("RateLimit-Usage"))
        limit = _numbers(resp.headers.get("RateLimit-Limit"))
        if not reset:
            return super().retry_after(resp)
        for i, r in enumerate(reset):
            if i < len(usage) and i < len(limit) and usage[i] >= limit[i]:
                return r
        return reset[0]

    # ------------------------------------------------------------------ account
    def after_connect(self, api: ApiClient, tokens: TokenSet, member_id: str) -> AccountInfo:
        if not tokens.user_id:
            raise MalformedPayload("Polar did not say which account was connected.")
        try:
            api.request("POST", "/v3/users", json={"member-id": member_id})
        except VendorRejected as exc:
            if exc.status != 409:
                raise
            # 409: already registered to us — fine when the token's own user answers
            api.get(f"/v3/users/{tokens.user_id}")
        except ScopeDenied:
            raise TermsNotAccepted(
                "Polar says the patient has not accepted the data-sharing consents in Polar Flow. Ask them to "
                "accept them (flow.polar.com → Settings) and connect again."
            ) from None
        return AccountInfo(tokens.user_id, None, ())

    # ------------------------------------------------------------------ data
    def fetch(self, api: ApiClient, data_type: str, start: dt.date, end: dt.date, ctx: FetchContext) -> Records:
        if data_type == "exercises":
            return self._exercises(api, start, end, ctx)
        if data_type == "daily_activity":
            return self._activity(api, start, end)
        raise KeyError(data_type)

    def _exercises(self, api: ApiClient, start: dt.date, end: dt.date, ctx: FetchContext) -> Records:
        rec = Records()
        listing = ctx.cache.get("polar_exercises")
        if listing is None:
            listing = api.get("/v3/exercises")  # the last 30 days, a bare array
            if not isinstance(listing, list):
                raise MalformedPayload("Polar sent a list of exercises that could not be read.")
            ctx.cache["polar_exercises"] = listing
        for item in listing:
            try:
                ex = _exercise(item)
            except (KeyError, TypeError, ValueError, AttributeError):
                log.warning("polar: skipped an exercise that could not be read")
                continue
            if not start <= ex["local_date"] <= end:
                continue
            detail = api.get(f"/v3/exercises/{ex['external_id']}", {"samples": "true"})
            if not isinstance(detail, dict):
                raise MalformedPayload("Polar sent an exercise that could not be read.")
            rec.exercises.append(ex)
            rec.heart_rate.extend(_hr_samples(detail, ex))
        return rec

    def _activity(self, api: ApiClient, start: dt.date, end: dt.date) -> Records:
        rec = Records()
        body = api.get("/v3/users/activities", {"from": start.isoformat(), "to": end.isoformat()})
        if not isinstance(body, list):
            raise MalformedPayload("Polar sent daily activity that could not be read.")
        for a in body:
            try:
                day = dt.date.fromisoformat(str(field(a, "start_time"))[:10])
                active = _duration_or_none(field(a, "active_duration"))
                rec.daily_activity.append({
                    "local_date": day,
                    "steps": as_int(field(a, "steps")),
                    "calories": as_int(field(a, "calories")),
                    "active_minutes": active // 60 if active is not None else None,
                    "active_duration_s": active,
                    "inactive_duration_s": _duration_or_none(field(a, "inactive_duration")),
                    "active_calories": as_int(field(a, "active_calories")),
                    "daily_activity_pct": as_float(field(a, "daily_activity")),
                    "inactivity_alert_count": as_int(field(a, "inactivity_alert_count")),
                    "distance_from_steps_m": as_float(field(a, "distance_from_steps")),
                })
            except (KeyError, TypeError, ValueError, AttributeError):
                log.warning("polar: skipped a daily activity entry that could not be read")
        rec.daily_activity = [r for r in rec.daily_activity if start <= r["local_date"] <= end]
        return rec


def _duration_or_none(raw: Any) -> int | None:
    return iso_duration_s(raw) if raw else None


def _numbers(raw: str | None) -> list[float]:
    out = []
    for part in (raw or "").split(","):
        try:
            out.append(float(part.strip()))
        except ValueError:
            continue
    return out


def _exercise(item: dict[str, Any]) -> Record:
    local_start = dt.datetime.fromisoformat(str(field(item, "start_time")))
    if local_start.tzinfo is not None:
        local_start = local_start.replace(tzinfo=None)
    offset_min = as_int(field(item, "start_time_utc_offset"))
    if offset_min is None:
        raise ValueError("no utc offset")
    off = offset_min * 60
    start = local_start - dt.timedelta(seconds=off)
    duration = iso_duration_s(field(item, "duration"))
    hr = field(item, "heart_rate") or {}
    return {
        "external_id": str(item["id"]),
        "start_utc": start,
        "end_utc": start + dt.timedelta(seconds=duration),
        "utc_offset_s": off,
        "local_date": local_start.date(),
        "sport": str(field(item, "sport") or field(item, "detailed_sport_info") or "")[:64],
        "avg_hr": as_int(hr.get("average")) or None,
        "max_hr": as_int(hr.get("maximum")) or None,
        "calories": as_int(field(item, "calories")),
        "distance_m": as_float(field(item, "distance")),
        "device": str(field(item, "device") or "")[:128] or None,
        "sport_detail": str(field(item, "detailed_sport_info") or "")[:64] or None,
        "training_load": as_float(field(item, "training_load")),
        "running_index": as_int(field(item, "running_index")),
        "fat_percentage": as_int(field(item, "fat_percentage")),
        "carbohydrate_percentage": as_int(field(item, "carbohydrate_percentage")),
        "protein_percentage": as_int(field(item, "protein_percentage")),
    }


def _hr_samples(detail: dict[str, Any], ex: Record) -> list[Record]:
    out: list[Record] = []
    for sample in detail.get("samples") or []:
        if str(field(sample, "sample_type")) != HR_SAMPLE_TYPE:
            continue
        rate = as_int(field(sample, "recording_rate")) or 1
        for i, raw in enumerate(str(sample.get("data") or "").split(",")):
            try:
                bpm = as_int(raw.strip())
            except ValueError:
                bpm = None
            if not bpm:  # 0 = no signal, not a heart rate
                continue
            ts = ex["start_utc"] + dt.timedelta(seconds=i * rate)
            off = ex["utc_offset_s"]
            out.append({"kind": "exercise", "ts_utc": ts, "utc_offset_s": off,
                        "local_date": local_date(ts, off), "bpm": bpm})
    return out
