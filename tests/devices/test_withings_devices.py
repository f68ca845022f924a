"""Withings devices (issue 13): `v2/user action=getdevice` parsed from a documented payload, served
by the sandbox in the documented shape, and stored by a sync like Fitbit's paired devices: model,
battery and last sync, with the last-sync history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Device, DeviceSync
from services.sandbox import SandboxServer
from services.vendors.base import MalformedPayload
from services.vendors.withings import parse_devices
from tests.connect.conftest import _wire, connect
from tests.sandbox.conftest import REDIRECT, query, withings_token, wpost

# The documented getdevice body, values invented: a Sleep Analyzer (reported as model "Aura Sensor V2"),
# a scale with a low battery, a phone's step counter (not a device to sync), and an entry with no id.
MAT_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
SCALE_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
DOCUMENTED = {
    "devices": [
        {"type": "Sleep Monitor", "model": "Aura Sensor V2", "model_id": 63, "battery": "high",
         "deviceid": MAT_ID, "hash_deviceid": MAT_ID,
         "timezone": "Europe/Berlin", "first_session_date": 1767200000, "last_session_date": 1767800000},
        {"type": "Scale", "model": "Body+", "model_id": 5, "battery": "low",
         "deviceid": SCALE_ID, "hash_deviceid": SCALE_ID,
         "timezone": "Europe/Berlin", "first_session_date": 1767000000, "last_session_date": 1767100000},
        {"type": "HealthKit Apple", "model": "iOS step tracker", "model_id": 1051, "battery": "high",
         "deviceid": "feedfacefeedfacefeedfacefeedfacefeedface", "timezone": "Europe/Berlin",
         "last_session_date": 1767900000},
        {"type": "Scale", "model": "Body", "battery": "medium", "last_session_date": 1767000000},
    ]
}


def epoch(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def test_getdevice_payload_becomes_devices_with_battery_and_last_sync() -> None:
    mat, scale = parse_devices(DOCUMENTED)
    assert (mat.external_id, mat.device_type, mat.model) == (MAT_ID, "Sleep Monitor", "Sleep Analyzer")
    assert mat.last_sync_utc == epoch(1767800000)  # last_session_date, naive UTC as stored
    assert (mat.battery_level, mat.battery_status) == (None, "high")  # Withings gives a word, not a %
    assert (scale.external_id, scale.model, scale.battery_status) == (SCALE_ID, "Body+", "low")
    assert scale.last_sync_utc == epoch(1767100000)


def test_getdevice_without_a_device_list_is_refused() -> None:
    for body in ({}, {"devices": "none"}, []):
        with pytest.raises(MalformedPayload):
            parse_devices(body)
    assert parse_devices({"devices": []}) == []


def test_the_sandbox_serves_getdevice_as_documented() -> None:
    with SandboxServer(seed=1, today=dt.date(2026, 11, 28)) as srv:
        code = query(srv.approve(_authorize(srv, "user.info,user.sleepevents"), "emil"))["code"]
        token = withings_token(srv, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)["body"]
        stale = dt.datetime(2026, 11, 23, 6, 15, tzinfo=dt.UTC)
        srv.set_device_sync("withings", "emil", stale)
        srv.user("withings", "emil").battery_level = 25  # type: ignore[union-attr]
        out = wpost(srv, token["access_token"], "/v2/user", action="getdevice")
        assert out["status"] == 0
        [device] = out["body"]["devices"]
        assert device["type"] == "Sleep Monitor" and device["model"] == "Aura Sensor V2"
        assert device["model_id"] == 63 and device["battery"] == "low"
        assert device["last_session_date"] == int(stale.timestamp())
        assert device["first_session_date"] < device["last_session_date"]
        assert device["deviceid"] == device["hash_deviceid"] and len(device["deviceid"]) == 40
        assert device["timezone"] == "Europe/Berlin"

        code = query(srv.approve(_authorize(srv, "user.sleepevents"), "fatma"))["code"]
        token = withings_token(srv, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)["body"]
        assert wpost(srv, token["access_token"], "/v2/user", action="getdevice")["status"] == 214


def _authorize(srv: SandboxServer, scopes: str) -> str:
    from urllib.parse import urlencode

    cid, _ = srv.client("withings")
    return srv.endpoints("withings")["authorize_url"] + "?" + urlencode({
        "response_type": "code", "client_id": cid, "scope": scopes, "redirect_uri": REDIRECT, "state": "s"})


def test_a_sync_stores_the_mat_with_battery_and_last_sync(app: Any) -> None:
    """On SQLite and MariaDB: the first sync stores the mat; a later one updates its battery and
    adds its new last sync to the history, keeping the old one."""
    today = app.clock.today()
    with SandboxServer(seed=1, today=today, clock=app.clock) as srv:
        sapp = _wire(app, srv)
        assert connect(sapp, srv, "W-1", "withings", "emil").ok
        cid = sapp.connections.connection_id("W-1", "withings")
        emil = srv.user("withings", "emil")
        assert emil is not None
        first_sync = emil.last_sync.astimezone(dt.UTC).replace(tzinfo=None)
        assert sapp.sync.sync_connection(cid, today - dt.timedelta(days=2), today).ok
        with sapp.db.session() as s:
            [mat] = s.scalars(select(Device).where(Device.vendor == "withings")).all()
            assert (mat.model, mat.device_type, mat.battery_status, mat.battery_level) == (
                "Sleep Analyzer", "Sleep Monitor", "high", None)
            assert mat.last_sync_utc == first_sync and mat.retired_at is None

        emil.battery_level = 20
        later = emil.last_sync + dt.timedelta(hours=2)
        srv.set_device_sync("withings", "emil", later)
        assert sapp.sync.sync_connection(cid, today - dt.timedelta(days=2), today).ok
        with sapp.db.session() as s:
            [mat] = s.scalars(select(Device).where(Device.vendor == "withings")).all()
            history = sorted(s.scalars(select(DeviceSync.last_sync_utc).where(DeviceSync.device_id == mat.id)))
        assert mat.battery_status == "low"
        assert mat.last_sync_utc == later.astimezone(dt.UTC).replace(tzinfo=None)
        assert history == [first_sync, mat.last_sync_utc]
