"""Alerts: recipients managed in the app, one digest per run through a real local SMTP server,
the device in use (not a retired one), re-consent, failed downloads, no repeats the same day, and a
mail failure that is reported but never breaks the sync."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import func, select

from db.models import AlertSent
from services.accounts.actor import HOST, Actor
from services.alerts.mail import Mailer
from services.alerts.service import AlertService, attach_alerts
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from services.secrets import SecretStore
from services.sync.scheduler import attach_scheduler
from tests.flow.conftest import FakeSync, add_connection, add_device, at, write_coverage
from tests.flow.test_mail import PASSWORD, SENDER, closed_port, env_for
from tests.support.smtp_server import SmtpTestServer

UTC = dt.datetime  # naive UTC instants, as stored


@pytest.fixture
def server():
    with SmtpTestServer(username=SENDER, password=PASSWORD) as srv:
        yield srv


def service(app, clock, env: dict[str, str]) -> AlertService:
    store = SecretStore(env)
    return AlertService(app.db, store, app.settings, Mailer(store, env, timeout=5), app.audit, clock)


def clinic(app) -> None:
    """Invented patients: one of each situation the digest must tell apart."""
    add_connection(app, "P-001", "fitbit")
    add_device(app, "P-001", "fitbit", "old-watch", "Charge 5", last_seen=UTC(2026, 11, 9),
               last_sync=UTC(2026, 11, 5, 10, 0), retired=UTC(2026, 11, 10))
    add_device(app, "P-001", "fitbit", "new-watch", "Charge 6", last_seen=UTC(2026, 11, 20, 7, 0),
               last_sync=UTC(2026, 11, 16, 7, 30))
    add_connection(app, "P-002", "fitbit")  # swapped watches; the old one is not marked retired
    add_device(app, "P-002", "fitbit", "a", "Inspire 2", last_seen=UTC(2026, 11, 12), last_sync=UTC(2026, 11, 1))
    add_device(app, "P-002", "fitbit", "b", "Inspire 3", last_seen=UTC(2026, 11, 20, 7, 0),
               last_sync=UTC(2026, 11, 20, 6, 0))
    add_connection(app, "P-003", "withings", status="needs_reconsent")
    polar = add_connection(app, "P-004", "polar")
    write_coverage(app, polar, [dt.date(2026, 11, 19)], status="failed", data_type="exercises",
                   error="HTTP 503 from Polar access_token=abc123secretvalue", attempted=UTC(2026, 11, 20, 7, 0))
    add_connection(app, "P-005", "withings")  # no device sync time reported: nothing to say
    add_connection(app, "P-006", "fitbit", status="needs_reconsent")
    app.patients.delete("P-006", HOST)


def test_one_digest_names_the_out_of_sync_device_and_the_revoked_connection(app, clock, server):
    clinic(app)
    alerts = service(app, clock, env_for(server.port))
    alerts.add_recipient("coordinator@clinic.example", HOST)
    alerts.add_recipient("nurse@clinic.example", HOST)

    result = alerts.run()
    assert result.sent and result.error is None
    assert [(a.kind, a.patient_code) for a in result.alerts] == [
        ("device_not_synced", "P-001"), ("needs_reconsent", "P-003"), ("download_failed", "P-004")]
    [mail] = server.messages
    assert sorted(mail.rcpt_to) == ["coordinator@clinic.example", "nurse@clinic.example"]
    msg = mail.message
    assert msg["Subject"] == ("WearSync alerts 2026-11-20: 1 device not synced, "
                              "1 connection needs re-consent, 1 failed download")
    assert msg["From"] == SENDER
    body = msg.get_content()
    assert "Devices that have not synced for 3 days or more:" in body
    # 07:30 UTC is 08:30 in the clinic's Berlin time
    assert "P-001, Fitbit (Charge 6): the device last synced to Fitbit on 2026-11-16 08:30, 4 days ago" in body
    assert "P-003, Withings: access has been withdrawn or has expired. Reconnect the patient" in body
    assert "P-004, Polar: 1 day(s) could not be downloaded (2026-11-19): HTTP 503 from Polar" in body
    assert "Charge 5" not in body, "the retired watch must not alert"
    assert "P-002" not in body and "P-005" not in body and "P-006" not in body
    assert "abc123secretvalue" not in body and "[redacted]" in body
    assert result.summary().startswith("1 device not synced, 1 connection needs re-consent")


def test_the_same_digest_is_not_sent_twice_the_same_day(app, clock, server):
    clinic(app)
    alerts = service(app, clock, env_for(server.port))
    alerts.add_recipient("coordinator@clinic.example", HOST)
    assert alerts.run().sent
    again = alerts.run()
    assert not again.sent and again.new == () and len(again.alerts) == 3  # the tray still shows them
    assert len(server.messages) == 1

    clock.advance(dt.timedelta(days=1))
    next_day = alerts.run()
    assert next_day.sent and len(server.messages) == 2
    assert "5 days ago" in server.messages[1].message.get_content()

    clock.advance(dt.timedelta(days=60))
    assert alerts.prune_sent(keep_days=60) == 3  # the first day's three; the second day's stay


def test_a_new_problem_later_the_same_day_sends_only_the_new_alert(sqlite_app, clock, server):
    app = sqlite_app
    clinic(app)
    alerts = service(app, clock, env_for(server.port))
    alerts.add_recipient("coordinator@clinic.example", HOST)
    alerts.run()
    add_connection(app, "P-007", "polar", status="needs_reconsent")
    later = alerts.run()
    assert [a.patient_code for a in later.new] == ["P-007"]
    body = server.messages[1].message.get_content()
    assert "P-007" in body and "P-001" not in body


def test_smtp_failure_is_reported_not_raised_and_retried_next_run(sqlite_app, clock, server):
    app = sqlite_app
    clinic(app)
    env = env_for(closed_port())
    alerts = service(app, clock, env)
    alerts.add_recipient("coordinator@clinic.example", HOST)
    down = alerts.run()
    assert not down.sent and "Check the SMTP server" in (down.error or "")
    assert "was not sent" in down.summary()

    env["WEARSYNC_SMTP_PORT"] = str(server.port)
    env["DATA_PLATFORM_PASSWORD"] = "revoked-app-password"
    refused = alerts.run()
    assert not refused.sent and "Check the app password" in (refused.error or "")
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AlertSent)) == 0

    env["DATA_PLATFORM_PASSWORD"] = PASSWORD
    assert alerts.run().sent
    assert len(server.messages) == 1


def test_no_recipients_is_said_and_the_seed_email_list_still_works(sqlite_app, clock, server):
    app = sqlite_app
    clinic(app)
    env = env_for(server.port)
    nobody = service(app, clock, env).run()
    assert not nobody.sent and "No alert recipients" in (nobody.error or "")
    env["EMAIL_LIST"] = '["legacy@clinic.example"]'
    assert service(app, clock, env).run().sent
    assert server.messages[0].rcpt_to == ["legacy@clinic.example"]


def test_recipients_are_managed_with_validation(app, clock):
    env = {"PYTHON_KEYRING_BACKEND": os.environ["PYTHON_KEYRING_BACKEND"]}
    alerts = service(app, clock, env)
    assert alerts.add_recipient(" Nurse@Clinic.Example ", HOST) == "nurse@clinic.example"
    with pytest.raises(Conflict, match="already receives"):
        alerts.add_recipient("NURSE@clinic.example", HOST)
    for bad in ("", "nurse", "nurse@clinic", "a b@clinic.example", "a@@clinic.example", "x@clinic..example"):
        with pytest.raises(InvalidInput):
            alerts.add_recipient(bad, HOST)
    with pytest.raises(PermissionDenied):
        alerts.add_recipient("viewer@clinic.example", Actor("v", "viewer", "gui"))
    assert alerts.recipients() == ["nurse@clinic.example"]
    alerts.remove_recipient("nurse@clinic.example", HOST)
    with pytest.raises(NotFound):
        alerts.remove_recipient("nurse@clinic.example", HOST)
    assert alerts.recipients() == []


def test_the_seed_email_list_is_imported_all_or_nothing(sqlite_app, clock):
    app = sqlite_app
    env = {"PYTHON_KEYRING_BACKEND": os.environ["PYTHON_KEYRING_BACKEND"],
           "EMAIL_LIST": '["a@clinic.example", "B@clinic.example", "a@clinic.example"]'}
    alerts = service(app, clock, env)
    alerts.add_recipient("b@clinic.example", HOST)
    assert alerts.import_legacy_list(HOST) == ["a@clinic.example"]
    assert alerts.import_legacy_list(HOST) == []
    with pytest.raises(InvalidInput):
        alerts.import_legacy_list(HOST, '["c@clinic.example", "not an address"]')
    with pytest.raises(InvalidInput, match="must be a list like"):
        alerts.import_legacy_list(HOST, '["unterminated"')
    assert alerts.recipients() == ["a@clinic.example", "b@clinic.example"]


def test_the_scheduled_run_sends_the_digest_and_tells_the_tray(sqlite_app, stepped, clock, server):
    app = sqlite_app
    clinic(app)
    app.environ.update(env_for(server.port))  # as if set before WearSync started
    alerts = attach_alerts(app)  # on the app's clock, which the `clock` fixture pinned
    alerts.add_recipient("coordinator@clinic.example", HOST)
    events = []
    fake = FakeSync(app, clock)
    attach_scheduler(app, fake, clock=clock, scheduler=stepped, on_event=events.append, check_alerts=alerts.run)
    app.start_background()
    stepped.process()
    app.stop_background()
    assert fake.calls, "the catch-up ran first"
    [tray] = [e for e in events if e.kind == "alerts"]
    assert tray.digest is not None and tray.digest.sent
    assert tray.message.startswith("1 device not synced")
    assert len(server.messages) == 1
    assert app.secrets.checkers["DATA_PLATFORM_PASSWORD"]  # Settings → Secrets → Test signs in
    assert clock.local_now() == at(2026, 11, 20, 9, 0)
