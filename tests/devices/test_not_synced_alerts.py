"""Issue 13: every vendor's device can raise "not synced". A sandbox Withings account whose mat has
not synced for N days appears in the digest (one that synced yesterday does not); a Polar account
with no new exercise or daily activity for N days appears, worded as such; each alert is e-mailed
once per digest (day), again the next day while it lasts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.accounts.actor import HOST
from services.alerts.service import DEVICE_NOT_SYNCED, NO_NEW_DATA
from tests.connect.conftest import _wire, connect
from tests.devices.conftest import BERLIN, noon_today, sandbox_on
from tests.flow.test_alerts import service
from tests.flow.test_mail import env_for

D = dt.timedelta


def connect_and_sync(app: Any, srv: Any, code: str, vendor: str, user: str) -> None:
    assert connect(app, srv, code, vendor, user).ok
    result = app.sync.sync_connection(app.connections.connection_id(code, vendor))
    assert result.ok, result.summary


def test_a_withings_mat_not_synced_for_n_days_is_in_the_digest_once(app: Any, mail: Any) -> None:
    now = noon_today(app)
    n = 5
    app.settings.set("alert_after_days", n)
    with sandbox_on(app) as srv:
        _wire(app, srv)
        srv.set_device_sync("withings", "emil", now - D(days=n, hours=1))
        srv.set_device_sync("withings", "fatma", now - D(days=1))  # synced yesterday: nothing to say
        connect_and_sync(app, srv, "W-STALE", "withings", "emil")
        connect_and_sync(app, srv, "W-FRESH", "withings", "fatma")
    alerts = service(app, app.clock, env_for(mail.port))
    alerts.add_recipient("coordinator@clinic.example", HOST)

    first = alerts.run()
    assert first.sent, first.error
    assert [(a.kind, a.patient_code, a.vendor) for a in first.alerts] == [(DEVICE_NOT_SYNCED, "W-STALE", "withings")]
    body = mail.messages[0].message.get_content()
    assert f"Devices that have not synced for {n} days or more:" in body
    when = (now - D(days=n, hours=1)).astimezone(BERLIN)
    assert (f"W-STALE, Withings (Sleep Analyzer): the device last synced to Withings on {when:%Y-%m-%d %H:%M}, "
            f"{n} days ago. Ask the patient to check that the mat is plugged in and on Wi-Fi") in body
    assert "W-FRESH" not in body

    again = alerts.run()  # the same day: nothing new to send
    assert not again.sent and again.new == () and len(again.alerts) == 1
    assert len(mail.messages) == 1

    app.clock.advance(D(days=1))  # still not synced the next day: one more digest
    next_day = alerts.run()
    assert next_day.sent and len(mail.messages) == 2
    assert f"{n + 1} days ago" in mail.messages[1].message.get_content()


def test_a_polar_account_without_new_data_for_n_days_is_in_the_digest_once(sqlite_app: Any, mail: Any) -> None:
    app = sqlite_app
    now = noon_today(app)
    today = now.date()
    n = 5
    app.settings.set("alert_after_days", n)
    with sandbox_on(app) as srv:
        _wire(app, srv)
        # both connected ten days ago (Polar has data only from then on) ...
        app.clock.pin(now - D(days=10))
        assert connect(app, srv, "P004", "polar", "greta").ok
        assert connect(app, srv, "P005", "polar", "hugo").ok
        app.clock.pin(now)
        # ... greta's last upload was late in the evening n days ago (that day's activity is there),
        # hugo's this morning
        srv.set_device_sync("polar", "greta", dt.datetime.combine(today - D(days=n), dt.time(23, 0), BERLIN))
        for code in ("P004", "P005"):
            result = app.sync.sync_connection(app.connections.connection_id(code, "polar"))
            assert result.ok, result.summary
    alerts = service(app, app.clock, env_for(mail.port))
    alerts.add_recipient("coordinator@clinic.example", HOST)

    first = alerts.run()
    assert first.sent, first.error
    assert [(a.kind, a.patient_code) for a in first.alerts] == [(NO_NEW_DATA, "P004")]
    body = mail.messages[0].message.get_content()
    assert ("P004's Polar account has had no new exercise or daily activity for 5 days: check the strap is "
            "worn and synced with the Polar Flow app.") in body
    assert f"Accounts with no new data for {n} days or more:" in body
    assert "P005" not in body
    assert mail.messages[0].message["Subject"].endswith(": 1 account with no new data")

    assert not alerts.run().sent  # once per digest
    assert len(mail.messages) == 1
    app.clock.advance(D(days=1))
    assert alerts.run().sent
    assert "for 6 days" in mail.messages[1].message.get_content()
