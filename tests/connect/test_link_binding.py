"""Enrolment links and pending consents belong to the patient's row, not to the ID text (issue 12,
item 1), are voided by a rename, move, delete or withdrawal, and opening a link again reuses its
pending consent; the same answer arriving twice at once still reports the connection."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Connection, OAuthState, Patient
from services.accounts.actor import HOST
from services.connect.service import LINK_OPENS_PER_WINDOW, EnrolmentLinkInvalid
from services.sandbox import SandboxServer

from .conftest import count, query

NO_LONGER_VALID = "This link is no longer valid"  # the patient's page: "..., ask the clinic for a new one"


def _says_no_longer_valid(page: Any) -> bool:
    return not page.ok and page.title == NO_LONGER_VALID and "send you a new one" in page.text()


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _connections(app: Any) -> dict[tuple[str, str], str]:
    """(patient ID, vendor) -> status, for every live patient."""
    with app.db.session() as s:
        rows = s.execute(select(Patient.code, Connection.vendor, Connection.status)
                         .join(Connection, Connection.patient_id == Patient.id)
                         .where(Patient.deleted_at.is_(None))).all()
    return {(r.code, r.vendor): r.status for r in rows}


def test_link_after_rename_and_new_patient_under_the_old_id(sapp: Any, srv: SandboxServer) -> None:
    link = sapp.connections.create_enrolment_link("P-030", "fitbit", HOST)
    opened_before = sapp.connections.open_enrolment(_token(link.url))  # a pending consent on the phone
    sapp.patients.rename("P-030", "P-031", HOST)
    sapp.patients.add("P-030", ["fitbit"], HOST)  # another person
    with pytest.raises(EnrolmentLinkInvalid) as refused:
        sapp.connections.open_enrolment(_token(link.url))
    assert _says_no_longer_valid(refused.value.page)
    # the consent already under way when the rename happened is refused too
    page = sapp.connections.handle_callback(query(srv.approve(opened_before, "anna")))
    assert _says_no_longer_valid(page)
    assert _connections(sapp) == {("P-030", "fitbit"): "not_connected", ("P-031", "fitbit"): "not_connected"}
    assert not [c for c in srv.calls if c.kind == "token"]  # the code was never exchanged


def test_link_after_a_device_type_move(sapp: Any, srv: SandboxServer) -> None:
    sapp.patients.add("P-040", ["fitbit", "withings"], HOST)
    link = sapp.connections.create_enrolment_link("P-040", "fitbit", HOST)
    opened_before = sapp.connections.open_enrolment(_token(link.url))
    sapp.patients.rename("P-040", "P-041", HOST, vendor="fitbit")
    with pytest.raises(EnrolmentLinkInvalid) as refused:
        sapp.connections.open_enrolment(_token(link.url))
    assert _says_no_longer_valid(refused.value.page)
    page = sapp.connections.handle_callback(query(srv.approve(opened_before, "anna")))
    assert _says_no_longer_valid(page)
    # no Fitbit device re-created on the old ID, the moved one not connected
    assert _connections(sapp) == {("P-040", "withings"): "not_connected", ("P-041", "fitbit"): "not_connected"}


def test_pending_consent_here_after_a_rename_is_refused(sapp: Any, srv: SandboxServer) -> None:
    """Not only links: a 'connect here' state is bound to the row, and the coordinator hears why."""
    pending = sapp.connections.begin("P-050", "polar", HOST)
    redirect = srv.approve(pending.authorize_url, "greta")
    sapp.patients.rename("P-050", "P-051", HOST)
    sapp.patients.add("P-050", ["polar"], HOST)
    page = sapp.connections.handle_callback(query(redirect))
    assert _says_no_longer_valid(page)
    outcome = sapp.connections.wait(pending, timeout=2)
    assert not outcome.ok and "renamed, moved, deleted or withdrew" in outcome.message
    assert _connections(sapp) == {("P-050", "polar"): "not_connected", ("P-051", "polar"): "not_connected"}


def test_link_after_delete_and_after_withdrawal(sapp: Any) -> None:
    deleted = sapp.connections.create_enrolment_link("P-060", "withings", HOST)
    sapp.patients.delete("P-060", HOST)
    sapp.patients.undo(HOST)  # the patient comes back; the link sent before the delete does not
    with pytest.raises(EnrolmentLinkInvalid) as refused:
        sapp.connections.open_enrolment(_token(deleted.url))
    assert _says_no_longer_valid(refused.value.page)
    from services.patients.withdrawal import withdraw_patient

    withdrawn = sapp.connections.create_enrolment_link("P-061", "withings", HOST)
    withdraw_patient(sapp, "P-061", HOST, keep_data=True, revoke=None, force=True)
    with pytest.raises(EnrolmentLinkInvalid) as refused:
        sapp.connections.open_enrolment(_token(withdrawn.url))
    assert _says_no_longer_valid(refused.value.page)


def test_opening_a_link_again_reuses_its_pending_consent(sapp: Any, srv: SandboxServer) -> None:
    link = sapp.connections.create_enrolment_link("P-070", "fitbit", HOST)
    token = _token(link.url)
    urls = {sapp.connections.open_enrolment(token) for _ in range(5)}
    assert len(urls) == 1  # same state, same PKCE challenge
    assert count(sapp.db, OAuthState) == 1
    assert sapp.connections._waiters == {}  # nobody waits for a link: nothing kept in memory
    # and the reused consent still works
    assert sapp.connections.handle_callback(query(srv.approve(urls.pop(), "anna"))).ok
    assert _connections(sapp) == {("P-070", "fitbit"): "connected"}


def test_a_link_opened_too_often_is_refused_for_a_while(sapp: Any) -> None:
    link = sapp.connections.create_enrolment_link("P-071", "withings", HOST)
    token = _token(link.url)
    for _ in range(LINK_OPENS_PER_WINDOW):
        sapp.connections.open_enrolment(token)
    with pytest.raises(EnrolmentLinkInvalid) as refused:
        sapp.connections.open_enrolment(token)
    assert refused.value.page.http_status == 429 and "Wait ten minutes" in refused.value.page.text()
    assert count(sapp.db, OAuthState) == 1


def test_the_same_answer_twice_at_once_reports_the_connection(sapp: Any, srv: SandboxServer) -> None:
    svc = sapp.connections
    pending = svc.begin("P-080", "fitbit", HOST)
    params = query(srv.approve(pending.authorize_url, "anna"))
    real_complete = svc._complete
    first_started = threading.Event()

    def slow_complete(*args: Any, **kw: Any) -> Any:  # the first one is still exchanging the code
        first_started.set()
        time.sleep(0.5)
        return real_complete(*args, **kw)

    svc._complete = slow_complete
    pages: list[Any] = []
    first = threading.Thread(target=lambda: pages.append(svc.handle_callback(dict(params))))
    first.start()
    assert first_started.wait(5)
    second = svc.handle_callback(dict(params))
    first.join(10)
    outcome = svc.wait(pending, timeout=5)
    assert outcome.ok, outcome.message
    assert pages[0].ok and second.ok
    assert _connections(sapp) == {("P-080", "fitbit"): "connected"}
