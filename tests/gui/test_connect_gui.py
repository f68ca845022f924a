"""The connect flow in the window, against the sandbox vendors: "Connect here" end to end (the
browser is replaced by the sandbox's approve() and a GET of the redirect, as the patient's browser
would do), denied consent, missing Google scopes, enrolment links, re-consent, Sync now, the busy
callback port, and the live refresh of the table when a consent arrives."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PySide6.QtCore import Qt
from sqlalchemy import select

from db.models import Connection
from services.accounts.actor import HOST, Actor
from services.sandbox import SandboxServer
from services.vendors.fitbit import ACTIVITY, SETTINGS, SLEEP
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui

TODAY = dt.date(2026, 11, 28)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=TODAY) as s:
        yield s


def wire(app: Any, srv: SandboxServer, port: int | None = None) -> Any:
    app.environ.update(srv.environ())
    app.environ.update(srv.credentials_environ())
    app.environ["WEARSYNC_CALLBACK_PORT"] = str(port or free_port())
    app.sync.sleep = lambda _s: None
    app.sync.http_timeout = 5.0
    return app


@pytest.fixture
def shell(make_shell, sqlite_app, srv):  # type: ignore[no-untyped-def]
    """The window on an app wired to the sandbox, its callback listener running (as Shell.start does)."""
    wire(sqlite_app, srv)
    sqlite_app.start_background()
    s = make_shell()
    s.opened = []  # type: ignore[attr-defined]
    page = s.window.show_page("patients")
    page.open_url = lambda url: s.opened.append(url) or True  # the "browser"
    wait_idle_patients(s)
    yield s
    sqlite_app.stop_background()


def wait_idle_patients(shell) -> None:  # type: ignore[no-untyped-def]
    page = shell.window.pages["patients"]
    page.refresh()


def status(page, code: str, vendor: str) -> str | None:  # type: ignore[no-untyped-def]
    from gui.pages.patients.page import STATUS_ROLE
    from services.config import VENDORS

    for row, p in enumerate(page.model.rows):
        if p.code == code:
            return page.model.index(row, 1 + VENDORS.index(vendor)).data(STATUS_ROLE)
    return None


def stored(app, code: str, vendor: str) -> Connection:  # type: ignore[no-untyped-def]
    from db.models import Patient

    with app.db.session() as s:
        conn = s.scalar(select(Connection).join(Patient, Patient.id == Connection.patient_id)
                        .where(Patient.code == code, Connection.vendor == vendor))
        s.expunge(conn)
        return conn


def patient_browser(srv: SandboxServer, url: str, user: str, **approve: Any) -> requests.Response:
    """The patient clicks Allow (or Deny) and the browser follows the redirect to the listener."""
    redirect = srv.approve(url, user, **approve)
    return requests.get(redirect, timeout=30)


def connect_in_services(app, srv, code: str, vendor: str, user: str) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import parse_qs, urlsplit

    pending = app.connections.begin(code, vendor, HOST)
    redirect = srv.approve(pending.authorize_url, user)
    app.connections.handle_callback({k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()})


def add_patient(qtbot, shell, code: str, vendors: list[str]):  # type: ignore[no-untyped-def]
    page = shell.window.pages["patients"]
    dlg = page.open_add_dialog()
    dlg.code.setText(code)
    for v in vendors:
        dlg.vendor_boxes[v].setChecked(True)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(page, "choice_dialog", None) is not None and page.choice_dialog.isVisible())
    return page.choice_dialog


# ------------------------------------------------------------------------------------------------
def test_connect_here_end_to_end_updates_the_table_by_itself(qtbot, shell, srv) -> None:
    page = shell.window.pages["patients"]
    choice = add_patient(qtbot, shell, "P-200", ["fitbit", "withings"])
    assert status(page, "P-200", "fitbit") == "not_connected"

    qtbot.mouseClick(choice.findChild(type(choice.done_button), "choiceConnect_fitbit"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(shell.opened) == 1)
    wait = page.wait_dialog
    assert wait.isVisible() and wait.url.text() == shell.opened[0]  # shown for copying, too
    assert shell.opened[0].startswith(srv.base_url)

    page_text = patient_browser(srv, shell.opened[0], "anna").text
    assert "connected" in page_text.lower()
    # the listener's on_change reaches the table: no refresh button, no click
    qtbot.waitUntil(lambda: status(page, "P-200", "fitbit") == "connected", timeout=10_000)
    qtbot.waitUntil(lambda: wait.result_bar.isVisible())
    assert "Connected" in wait.result_bar.text.text() and wait.close_button.isVisible()
    assert choice.badges["fitbit"].status == "connected"
    assert status(page, "P-200", "withings") == "not_connected"
    assert stored(shell.app, "P-200", "fitbit").token_ciphertext is not None


def test_consent_finished_elsewhere_shows_up_without_clicking(qtbot, shell, srv) -> None:
    """An enrolment link opened on the patient's phone: nobody is waiting in a dialog."""
    shell.app.patients.add("P-300", ["polar"], HOST)
    page = shell.window.pages["patients"]
    page.refresh()
    qtbot.waitUntil(lambda: status(page, "P-300", "polar") == "not_connected")
    link = shell.app.connections.create_enrolment_link("P-300", "polar", HOST)
    consent = requests.get(link.url + "/continue", allow_redirects=False, timeout=10).headers["Location"]
    patient_browser(srv, consent, "greta")
    qtbot.waitUntil(lambda: status(page, "P-300", "polar") == "connected", timeout=10_000)


def test_denied_consent_says_so_and_stores_nothing(qtbot, shell, srv) -> None:
    page = shell.window.pages["patients"]
    shell.app.patients.add("P-201", ["fitbit"], HOST)
    page.refresh()
    wait_idle(qtbot, shell)
    wait = page.connect_here("P-201", "fitbit")
    qtbot.waitUntil(lambda: len(shell.opened) == 1)
    patient_browser(srv, shell.opened[0], "anna", decision="deny")
    qtbot.waitUntil(lambda: wait.result_bar.isVisible(), timeout=10_000)
    assert "declined" in wait.result_bar.text.text() and "nothing was connected" in wait.result_bar.text.text()
    assert wait.state.text() == "Not connected."
    conn = stored(shell.app, "P-201", "fitbit")
    assert conn.status == "not_connected" and conn.token_ciphertext is None and conn.vendor_user_id is None
    assert status(page, "P-201", "fitbit") == "not_connected"


def test_missing_google_scope_is_named_in_plain_words(qtbot, shell, srv) -> None:
    page = shell.window.pages["patients"]
    wait = page.connect_here("P-202", "fitbit")  # "connect" creates the patient when needed
    qtbot.waitUntil(lambda: len(shell.opened) == 1)
    patient_browser(srv, shell.opened[0], "ben", scopes=[ACTIVITY, SLEEP, SETTINGS])  # heart rate unticked
    qtbot.waitUntil(lambda: wait.result_bar.isVisible(), timeout=10_000)
    text = wait.result_bar.text.text()
    assert "Heart rate was not shared; ask the patient to reconnect and tick every box" in text
    qtbot.waitUntil(lambda: status(page, "P-202", "fitbit") == "connected")
    page.select("P-202")
    shown = " ".join(w.text() for w in page.detail.findChildren(type(page.detail.code)))
    assert "Not shared by the patient: heart rate" in shown
    assert "reconnect" in page.detail.action_buttons["fitbit"]  # the way to fix it is right there


def test_cancel_stops_waiting_and_connects_nothing(qtbot, shell, srv) -> None:
    page = shell.window.pages["patients"]
    wait = page.connect_here("P-203", "polar")
    qtbot.waitUntil(lambda: len(shell.opened) == 1)
    qtbot.mouseClick(wait.cancel_button, Qt.MouseButton.LeftButton)
    assert not wait.isVisible()
    wait_idle(qtbot, shell)  # the worker's wait ended promptly
    assert stored(shell.app, "P-203", "polar").status == "not_connected"


def test_enrolment_link_dialog_shows_url_qr_expiry_and_the_tunnel_warning(qtbot, shell) -> None:
    page = shell.window.pages["patients"]
    shell.app.patients.add("P-204", ["fitbit"], HOST)
    page.refresh()
    wait_idle(qtbot, shell)
    page.select("P-204")
    qtbot.mouseClick(page.detail.action_buttons["fitbit"]["link"], Qt.MouseButton.LeftButton)
    dlg = page.link_dialog
    qtbot.waitUntil(lambda: dlg.info is not None)
    port = shell.app.environ["WEARSYNC_CALLBACK_PORT"]
    assert dlg.url.text().startswith(f"http://127.0.0.1:{port}/enrol/")
    assert dlg.qr.pixmap().isNull() and "tunnel" in dlg.qr.text()  # no code to scan for a loopback link
    assert dlg.expiry.text().startswith("Valid until") and "72 hours" in dlg.expiry.text()
    assert dlg.warning.isVisible()
    assert "Start the tunnel first so the patient's phone can reach WearSync" in dlg.warning.text.text()
    qtbot.mouseClick(dlg.copy_button, Qt.MouseButton.LeftButton)
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == dlg.url.text()
    qtbot.mouseClick(dlg.warning.button, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible() and shell.window.current_page().key == "tunnel"


def test_enrolment_link_through_the_tunnel_has_no_warning(qtbot, shell) -> None:
    from services.reach.tunnel import TunnelStatus

    page = shell.window.pages["patients"]
    shell.ctx.tunnel._on_status(TunnelStatus("up", "https://clinic-demo.ngrok-free.app", None, "up"))
    dlg = page.send_link("P-205", "withings")
    qtbot.waitUntil(lambda: dlg.info is not None)
    assert dlg.url.text().startswith("https://clinic-demo.ngrok-free.app/enrol/")
    assert not dlg.warning.isVisible()
    assert not dlg.qr.pixmap().isNull() and dlg.qr.pixmap().width() >= 150


def test_reconnect_a_connection_that_needs_reconsent(qtbot, shell, srv) -> None:
    app = shell.app
    connect_in_services(app, srv, "P-206", "fitbit", "chiara")
    app.tokens.mark_reconsent(app.connections.connection_id("P-206", "fitbit"),
                              "Fitbit access was withdrawn by the patient.")
    page = shell.window.pages["patients"]
    page.refresh()
    qtbot.waitUntil(lambda: status(page, "P-206", "fitbit") == "needs_reconsent")
    page.select("P-206")
    buttons = page.detail.action_buttons["fitbit"]
    assert "sync" not in buttons  # nothing to download until the patient agrees again
    qtbot.mouseClick(buttons["reconnect"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(shell.opened) == 1)
    patient_browser(srv, shell.opened[0], "chiara")
    qtbot.waitUntil(lambda: status(page, "P-206", "fitbit") == "connected", timeout=10_000)
    assert stored(app, "P-206", "fitbit").last_error is None


def test_reconnect_with_another_account_is_refused(qtbot, shell, srv) -> None:
    app = shell.app
    connect_in_services(app, srv, "P-207", "fitbit", "anna")
    page = shell.window.pages["patients"]
    wait = page.connect_here("P-207", "fitbit")
    qtbot.waitUntil(lambda: len(shell.opened) == 1)
    patient_browser(srv, shell.opened[0], "ben")
    qtbot.waitUntil(lambda: wait.result_bar.isVisible(), timeout=10_000)
    assert "different Fitbit account" in wait.result_bar.text.text()


def test_sync_now_downloads_one_patient_and_says_so(qtbot, shell, srv) -> None:
    app = shell.app
    connect_in_services(app, srv, "P-208", "polar", "hugo")
    page = shell.window.pages["patients"]
    page.refresh()
    qtbot.waitUntil(lambda: status(page, "P-208", "polar") == "connected")
    page.select("P-208")
    with qtbot.waitSignal(page.connect_events.sync_finished, timeout=20_000):
        qtbot.mouseClick(page.detail.action_buttons["polar"]["sync"], Qt.MouseButton.LeftButton)
        assert status(page, "P-208", "polar") == "syncing"
    assert page.sync_bar.isVisible() and page.sync_bar.text.text().startswith("Downloaded P-208 Polar")
    qtbot.waitUntil(lambda: status(page, "P-208", "polar") == "connected")
    assert stored(app, "P-208", "polar").last_sync_at is not None
    # who asked for it is in the audit trail, as for every other download a person starts
    started = [(e.actor, e.target) for e in app.audit.entries() if e.action == "sync.started"]
    assert started == [(shell.ctx.session.actor.username, "P-208 polar")]


def test_viewer_cannot_connect_or_sync(qtbot, make_shell, sqlite_app, srv) -> None:
    wire(sqlite_app, srv)
    connect_in_services(sqlite_app, srv, "P-209", "polar", "greta")
    sqlite_app.sync.store.update_connection(sqlite_app.connections.connection_id("P-209", "polar"),
                                            last_sync_at=dt.datetime(2026, 11, 28, 6, 0))
    shell = make_shell(actor=Actor("vera", "viewer", "gui"))
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.select("P-209")
    buttons = page.detail.action_buttons["polar"]
    assert set(buttons) == {"sync", "link", "export"}
    assert all(not b.isEnabled() for b in buttons.values())
    assert "Your role (viewer) may not" in buttons["export"].toolTip()
    assert page.connect_here("P-209", "polar") is None


def test_busy_callback_port_is_a_clear_banner(qtbot, make_shell, sqlite_app, srv) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        wire(sqlite_app, srv, port=busy.getsockname()[1])
        shell = make_shell()
        page = shell.window.show_page("patients")
        shell.start()  # start_background -> the listener cannot bind
        qtbot.waitUntil(lambda: page.listener_banner.isVisible(), timeout=10_000)
        assert "WEARSYNC_CALLBACK_PORT" in page.listener_banner.text.text()
        # and Connect here says why instead of waiting ten minutes
        wait = page.connect_here("P-210", "fitbit")
        qtbot.waitUntil(lambda: wait.result_bar.isVisible())
        assert "WEARSYNC_CALLBACK_PORT" in wait.result_bar.text.text()
        sqlite_app.stop_background()


def test_withings_on_a_loopback_address_warns_about_the_tunnel(qtbot, shell) -> None:
    # the real Withings (not the sandbox, which accepts loopback) refuses http://127.0.0.1 redirects
    shell.app.environ.pop("WEARSYNC_WITHINGS_AUTHORIZE_URL")
    page = shell.window.pages["patients"]
    wait = page.connect_here("P-211", "withings")
    qtbot.waitUntil(lambda: len(shell.opened) == 1)
    assert shell.opened[0].startswith("https://account.withings.com/")
    assert wait.warning.isVisible()
    assert "public https address" in wait.warning.text.text() and "tunnel" in wait.warning.text.text()
    qtbot.mouseClick(wait.warning.button, Qt.MouseButton.LeftButton)  # "Open Tunnel page"
    assert not wait.isVisible() and shell.window.current_page().key == "tunnel"
    wait_idle(qtbot, shell)
