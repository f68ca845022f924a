"""Withings (Sleep Analyzer mat, scales): OAuth with the `action=requesttoken` envelope, sleep
summaries with every documented field, per-night sleep detail, body measures, and the account's
devices (`v2/user action=getdevice`: model, battery, last connection to Withings).

Quirks handled here: every answer is HTTP 200 with a `status` in the body (0 = ok); the code lives
30 s, so the callback exchanges it at once; each refresh returns a new pair and kills the old
refresh token (the token manager persists the pair before using it); sleep detail spans at most
24 h per call; measure values are `value × 10^unit`; paging with `more`/`offset`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from services.connect.oauth.base import Endpoints, OAuth2Implementation, OAuthError, TokenSet
from services.vendors.base import (
    AccountInfo,
    AuthExpired,
    DataType,
    DeviceInfo,
    FetchContext,
    MalformedPayload,
    RateLimited,
    Record,
    Records,
    ScopeDenied,
    Vendor,
    VendorRejected,
    VendorUnavailable,
)
from services.vendors.http import ApiClient
from services.vendors.times import as_float, as_int, from_epoch, local_date, local_midnight_utc, offset_in

if TYPE_CHECKING:  # requests and oauthlib load with the first call, not with the module (issue 15)
    import requests
    from requests_oauthlib import OAuth2Session

log = logging.getLogger(__name__)

SCOPES = ("user.info", "user.metrics", "user.activity", "user.sleepevents")
AUTH_FAILED = {100, 101, 102, 200, 401}
UNAUTHORIZED = {214, 277, 2553, 2555}
SUMMARY_FIELDS = (
    "total_sleep_time", "total_timeinbed", "deepsleepduration", "lightsleepduration", "remsleepduration",
    "wakeupduration", "wakeupcount", "durationtosleep", "durationtowakeup", "sleep_efficiency",
    "sleep_latency", "hr_average", "hr_min", "hr_max", "rr_average", "rr_min", "rr_max", "snoring",
    "snoringepisodecount", "sleep_score", "apnea_hypopnea_index", "breathing_disturbances_intensity",
    "wakeup_latency", "waso", "out_of_bed_count", "nb_rem_episodes",
)
STATES = {0: "wake", 1: "light", 2: "deep", 3: "rem"}
MAX_DETAIL_S = 86400
# getdevice: phone step counters and the like are listed as devices too; they are not a device the
# clinic handed out and there is nothing to sync on them, so they are not stored
VIRTUAL_TYPES = ("HealthKit", "Google Health Connect")
# the names a coordinator knows for the models Withings reports (its reference lists model names)
MODEL_NAMES = {"Aura Sensor V2": "Sleep Analyzer"}
BATTERY_WORDS = ("high", "medium", "low")


def _minutes(seconds: Any) -> int | None:
    v = as_float(seconds)
    return None if v is None else round(v / 60)


# --------------------------------------------------------------------------- OAuth compliance hooks
# Withings' token endpoint wants `action=requesttoken` beside the standard form fields, and answers
# HTTP 200 with `{"status": 0, "body": {...token..., "userid": ...}}` — a non-zero status is the error.
# These hooks (requests-oauthlib compliance hooks) turn both into standard OAuth 2.0.


def add_requesttoken_action(url: str, headers: dict[str, str], request_kwargs: dict[str, Any]
                            ) -> tuple[str, dict[str, str], dict[str, Any]]:
    """access_token_request hook: the code exchange is `action=requesttoken`."""
    request_kwargs["data"] = {**request_kwargs.get("data", {}), "action": "requesttoken"}
    return url, headers, request_kwargs


def add_requesttoken_action_to_body(url: str, headers: dict[str, str], body: str) -> tuple[str, dict[str, str], str]:
    """refresh_token_request hook: so is the refresh (requests-oauthlib hands the form as a string)."""
    from oauthlib.common import add_params_to_qs

    return url, headers, add_params_to_qs(body, [("action", "requesttoken")])


def unwrap_token_envelope(resp: requests.Response, *, refreshing: bool) -> requests.Response:
    """access/refresh_token_response hook: the token from `body`, or an OAuth error for a non-zero status."""
    envelope = resp.json()
    status = as_int(envelope.get("status")) if isinstance(envelope, dict) else None
    body = envelope.get("body") if isinstance(envelope, dict) else None
    token: dict[str, Any]
    if status == 0:
        token = dict(body) if isinstance(body, dict) else {}
        if token.get("userid") is not None:
            token["user_id"] = str(token["userid"])
        token.setdefault("token_type", "Bearer")
    else:
        # the status says what kind of refusal; the `error` text names what was refused (Withings numbers
        # are not documented one by one): a client it does not know, or a code that is wrong or too old
        said = str(envelope.get("error") or "").lower() if isinstance(envelope, dict) else ""
        if not refreshing and (status == 100 or "client" in said):
            token = {"error": "invalid_client"}
        elif status in AUTH_FAILED or (not refreshing and "code" in said):
            token = {"error": "invalid_grant"}
        else:
            token = {"error": f"status {status}"}
    resp._content = json.dumps(token).encode("utf-8")
    return resp


def _exchange_answer(resp: requests.Response) -> requests.Response:
    return unwrap_token_envelope(resp, refreshing=False)


def _refresh_answer(resp: requests.Response) -> requests.Response:
    return unwrap_token_envelope(resp, refreshing=True)


class WithingsOAuth(OAuth2Implementation):
    vendor = "withings"
    label = "Withings"
    scopes = SCOPES
    scope_separator = ","

    def comply(self, session: OAuth2Session) -> None:
        session.register_compliance_hook("access_token_request", add_requesttoken_action)
        session.register_compliance_hook("refresh_token_request", add_requesttoken_action_to_body)
        session.register_compliance_hook("access_token_response", _exchange_answer)
        session.register_compliance_hook("refresh_token_response", _refresh_answer)

    # ------------------------------------------------------------------ signed calls
    def sign(self, *values: str) -> str:
        """Withings' request signature: HMAC-SHA256, keyed with the client secret, of the signed
        parameters' values (action, client_id, then nonce or timestamp) joined by commas."""
        return hmac.new(self._client_secret.encode("utf-8"), ",".join(values).encode("utf-8"),
                        hashlib.sha256).hexdigest()

    def _signed_post(self, url: str, form: dict[str, str], what: str) -> dict[str, Any]:
        import requests

        try:
            resp = self.session.post(url, data=form, timeout=self.timeout)
            envelope = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise OAuthError(f"Withings could not be reached to {what} ({type(exc).__name__}).") from None
        status = as_int(envelope.get("status")) if isinstance(envelope, dict) else None
        if resp.status_code >= 400 or status != 0:
            code = status if status is not None else resp.status_code
            raise OAuthError(f"Withings refused to {what} (status {code}).")
        body = envelope.get("body")
        return body if isinstance(body, dict) else {}

    def nonce(self) -> str:
        """A one-time nonce for a signed call (Signature v2 - Getnonce, valid 30 minutes)."""
        timestamp = str(int(self.clock().replace(tzinfo=dt.UTC).timestamp()))
        body = self._signed_post(self.endpoints.api_url.rstrip("/") + "/v2/signature", {
            "action": "getnonce", "client_id": self.client_id, "timestamp": timestamp,
            "signature": self.sign("getnonce", self.client_id, timestamp)}, "start a signed request")
        nonce = body.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise OAuthError("Withings did not give a nonce for the signed request.")
        return nonce

    def revoke(self, tokens: TokenSet) -> None:
        """OAuth 2.0 - Revoke user access: a signed call (nonce + signature), as Withings documents it."""
        if not tokens.user_id:
            raise OAuthError("The Withings user of this connection is not known, so its access cannot be revoked.")
        nonce = self.nonce()
        self._signed_post(self.endpoints.revoke_url, {
            "action": "revoke", "client_id": self.client_id, "nonce": nonce,
            "signature": self.sign("revoke", self.client_id, nonce), "userid": tokens.user_id}, "revoke access")


class Withings(Vendor):
    name = "withings"
    label = "Withings"
    env_prefix = "WITHINGS"
    client_owner = "Withings"
    client_portal = "the Withings developer dashboard"
    # the Sleep Analyzer syncs itself over Wi-Fi: there is no app step for the patient
    device_sync_advice = ("Ask the patient to check that the mat is plugged in and on Wi-Fi "
                          "(the Withings app shows the mat's status under Devices).")
    default_endpoints = Endpoints(
        "https://account.withings.com/oauth2_user/authorize2",
        "https://wbsapi.withings.net/v2/oauth2",
        "https://wbsapi.withings.net",
        "https://wbsapi.withings.net/v2/oauth2",
    )
    oauth_class = WithingsOAuth
    needs_public_redirect = True
    data_types = (
        DataType("sleep", "sleep_sessions", 7, None,
                 writes=("sleep_stages", "heart_rate", "respiratory", "snoring")),
        DataType("body_measures", "body_measures", 30, "user.metrics"),
    )

    def check_response(self, resp: requests.Response) -> Any:
        if resp.status_code == 429:
            raise RateLimited("Withings asks us to slow down.", self.retry_after(resp))
        if resp.status_code >= 500:
            raise VendorUnavailable(f"Withings had a temporary problem (HTTP {resp.status_code}).",
                                    status=resp.status_code)
        if resp.status_code == 401:
            raise AuthExpired("Withings says the access token is no longer valid.")
        try:
            envelope = resp.json()
        except ValueError:
            raise MalformedPayload("Withings sent an answer that could not be read.") from None
        if not isinstance(envelope, dict):
            raise MalformedPayload("Withings sent an answer that could not be read.")
        status = as_int(envelope.get("status"))
        if status == 0:
            body = envelope.get("body")
            if not isinstance(body, dict):
                raise MalformedPayload("Withings sent an answer without data.")
            return body
        # errors arrive as HTTP 200 with a non-zero status
        if status in AUTH_FAILED:
            raise AuthExpired("Withings says the access token is no longer valid.", status=status)
        if status == 601:
            raise RateLimited("Withings asks us to slow down (status 601).", None)
        if status == 522:
            raise VendorUnavailable("Withings timed out (status 522).", status=status)
        if status in UNAUTHORIZED:
            raise ScopeDenied(f"Withings refused access to this data (status {status}).", status=status)
        raise VendorRejected(f"Withings refused the request (status {status}).", status=status)

    # ------------------------------------------------------------------ account
    def after_connect(self, api: ApiClient, tokens: TokenSet, member_id: str) -> AccountInfo:
        if not tokens.user_id:
            raise MalformedPayload("Withings did not say which account was connected.")
        missing = tuple(s for s in SCOPES if s not in tokens.scopes)
        return AccountInfo(tokens.user_id, None, missing)

    def devices(self, api: ApiClient) -> list[DeviceInfo] | None:
        """User v2 - Getdevice: the mat (and any scale) with battery and its last connection."""
        try:
            body = api.post_form("/v2/user", {"action": "getdevice"})
        except ScopeDenied:
            return None
        return parse_devices(body)

    # ------------------------------------------------------------------ data
    def fetch(self, api: ApiClient, data_type: str, start: dt.date, end: dt.date, ctx: FetchContext) -> Records:
        if data_type == "sleep":
            return self._sleep(api, start, end, ctx)
        if data_type == "body_measures":
            return self._measures(api, start, end, ctx)
        raise KeyError(data_type)

    def _paged(self, api: ApiClient, path: str, form: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        offset = 0
        for _ in range(1000):
            body = api.post_form(path, {**form, **({"offset": offset} if offset else {})})
            items = body.get(key)
            if not isinstance(items, list):
                raise MalformedPayload("Withings sent a page of data that could not be read.")
            yield from (i for i in items if isinstance(i, dict))
            more = body.get("more")
            offset = as_int(body.get("offset")) or 0
            if not more or more in ("0", "false") or not offset:
                return

    def _sleep(self, api: ApiClient, start: dt.date, end: dt.date, ctx: FetchContext) -> Records:
        rec = Records()
        form = {
            "action": "getsummary",
            # a day either side: the vendor's `date` may be the evening or the morning of a night
            "startdateymd": (start - dt.timedelta(days=1)).isoformat(),
            "enddateymd": (end + dt.timedelta(days=1)).isoformat(),
            "data_fields": ",".join(SUMMARY_FIELDS),
        }
        bad = 0
        for item in self._paged(api, "/v2/sleep", form, "series"):
            try:
                session = _summary(item, ctx)
            except (KeyError, TypeError, ValueError):
                bad += 1
                continue
            if not start <= session["local_date"] <= end:
                continue
            rec.timezone = rec.timezone or item.get("timezone")
            rec.sleep_sessions.append(session)
            self._detail(api, session, item.get("timezone") or ctx.timezone, rec)
        if bad:
            log.warning("withings: skipped %d sleep summaries that could not be read", bad)
        return rec

    def _detail(self, api: ApiClient, session: Record, tz: str | None, rec: Records) -> None:
        """Stages, heart rate, breathing and snoring of one night (24 h per call at most)."""
        lo = int(session["start_utc"].replace(tzinfo=dt.UTC).timestamp())
        hi = int(session["end_utc"].replace(tzinfo=dt.UTC).timestamp())
        seen: set[int] = set()
        fallback = session["utc_offset_s"]
        t = lo
        while t < hi:
            upto = min(hi, t + MAX_DETAIL_S)
            body = api.post_form("/v2/sleep", {"action": "get", "startdate": t, "enddate": upto,
                                               "data_fields": "hr,rr,snoring"})
            series = body.get("series")
            if not isinstance(series, list):
                raise MalformedPayload("Withings sent sleep detail that could not be read.")
            for seg in series:
                try:
                    s0, s1, state = int(seg["startdate"]), int(seg["enddate"]), int(seg["state"])
                except (KeyError, TypeError, ValueError):
                    continue
                if s0 in seen or s1 <= lo or s0 >= hi:
                    continue
                seen.add(s0)
                start_utc = from_epoch(s0)
                rec.sleep_stages.append({
                    "start_utc": start_utc,
                    "end_utc": from_epoch(s1),
                    "utc_offset_s": offset_in(tz, start_utc, fallback),
                    "local_date": session["local_date"],
                    "stage": STATES.get(state, "asleep"),
                })
                for name, target in (("hr", rec.heart_rate), ("rr", rec.respiratory), ("snoring", rec.snoring)):
                    values = seg.get(name)
                    if isinstance(values, dict):
                        target.extend(_samples(name, values, tz, fallback))
            t = upto

    def _measures(self, api: ApiClient, start: dt.date, end: dt.date, ctx: FetchContext) -> Records:
        rec = Records()
        # a day of slack either side when the zone is not known yet; rows are filtered by local date
        slack = dt.timedelta(days=0 if ctx.timezone else 1)
        lo = local_midnight_utc(start - slack, ctx.timezone)
        hi = local_midnight_utc(end + dt.timedelta(days=1) + slack, ctx.timezone)
        form = {"action": "getmeas", "category": 1,
                "startdate": int(lo.replace(tzinfo=dt.UTC).timestamp()),
                "enddate": int(hi.replace(tzinfo=dt.UTC).timestamp()) - 1}
        for grp in self._paged(api, "/measure", form, "measuregrps"):
            try:
                ts = from_epoch(grp["date"])
                tz = grp.get("timezone") or ctx.timezone
                off = offset_in(tz, ts)
                day = local_date(ts, off)
                if not start <= day <= end:
                    continue
                for m in grp.get("measures") or []:
                    rec.body_measures.append({
                        "ts_utc": ts, "utc_offset_s": off, "local_date": day,
                        "measure_type": int(m["type"]),
                        "value": round(float(m["value"]) * 10 ** int(m["unit"]), 6),
                    })
                rec.timezone = rec.timezone or grp.get("timezone")
            except (KeyError, TypeError, ValueError):
                log.warning("withings: skipped a measure group that could not be read")
        return rec


def parse_devices(body: Any) -> list[DeviceInfo]:
    """The `body` of a getdevice answer -> devices. Withings gives the battery as a word (high > 75 %,
    medium > 30 %, low), not a percentage, and the last sync as `last_session_date` (epoch seconds,
    the device's last connection to Withings' servers)."""
    items = body.get("devices") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise MalformedPayload("Withings sent a device list that could not be read.")
    out: list[DeviceInfo] = []
    for d in items:
        try:
            kind = str(d.get("type") or "")
            if kind.startswith(VIRTUAL_TYPES):
                continue
            ext = str(d.get("deviceid") or d["hash_deviceid"])
            last = d.get("last_session_date")
            battery = str(d.get("battery") or "").strip().lower()
            model = str(d.get("model") or "")
            out.append(DeviceInfo(ext, kind, MODEL_NAMES.get(model, model),
                                  from_epoch(last) if last not in (None, "", 0, "0") else None,
                                  None, battery if battery in BATTERY_WORDS else None))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError):
            log.warning("withings: skipped a device entry that could not be read")
    return out


def _summary(item: dict[str, Any], ctx: FetchContext) -> Record:
    start, end = from_epoch(item["startdate"]), from_epoch(item["enddate"])
    tz = item.get("timezone") or ctx.timezone
    data = item.get("data") or {}
    return {
        "external_id": str(item["id"]) if item.get("id") is not None else None,
        "start_utc": start,
        "end_utc": end,
        "utc_offset_s": offset_in(tz, start),
        # a night belongs to the local date on which it ends
        "local_date": local_date(end, offset_in(tz, end)),
        "is_main": True,
        "minutes_asleep": _minutes(data.get("total_sleep_time")),
        "minutes_awake": _minutes(data.get("wakeupduration")),
        "deep_minutes": _minutes(data.get("deepsleepduration")),
        "light_minutes": _minutes(data.get("lightsleepduration")),
        "rem_minutes": _minutes(data.get("remsleepduration")),
        "wakeup_count": as_int(data.get("wakeupcount")),
        "sleep_latency_s": as_int(data.get("sleep_latency", data.get("durationtosleep"))),
        "efficiency": as_float(data.get("sleep_efficiency")),
        "score": as_int(data.get("sleep_score")),
        "hr_average": as_float(data.get("hr_average")),
        "hr_min": as_float(data.get("hr_min")),
        "hr_max": as_float(data.get("hr_max")),
        "rr_average": as_float(data.get("rr_average")),
        "rr_min": as_float(data.get("rr_min")),
        "rr_max": as_float(data.get("rr_max")),
        "snoring_s": as_int(data.get("snoring")),
        "snoring_episodes": as_int(data.get("snoringepisodecount")),
        "apnea_hypopnea_index": as_float(data.get("apnea_hypopnea_index")),
        "time_in_bed_s": as_int(data.get("total_timeinbed")),
        "duration_to_sleep_s": as_int(data.get("durationtosleep")),
        "duration_to_wakeup_s": as_int(data.get("durationtowakeup")),
        "wakeup_latency_s": as_int(data.get("wakeup_latency", data.get("durationtowakeup"))),
        "waso_s": as_int(data.get("waso")),
        "out_of_bed_count": as_int(data.get("out_of_bed_count")),
        "rem_episodes": as_int(data.get("nb_rem_episodes")),
        "breathing_disturbances_intensity": as_float(data.get("breathing_disturbances_intensity")),
    }


def _samples(name: str, values: dict[str, Any], tz: str | None, fallback: int) -> Iterator[Record]:
    for epoch, raw in values.items():
        try:
            ts = from_epoch(epoch)
            v = float(raw)
        except (TypeError, ValueError):
            continue
        off = offset_in(tz, ts, fallback)
        row: Record = {"ts_utc": ts, "utc_offset_s": off, "local_date": local_date(ts, off)}
        if name == "hr":
            if v <= 0:
                continue  # no signal
            row.update(kind="sleep", bpm=round(v))
        elif name == "rr":
            if v <= 0:
                continue
            row["breaths_per_minute"] = v
        else:
            row["value"] = v
        yield row
