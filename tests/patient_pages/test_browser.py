"""The patient's pages in a real browser (headless Chromium) at phone and desktop widths, through the
sandbox vendors' own consent pages: what a patient on a phone actually meets.

Set WEARSYNC_SCREENSHOT_DIR to keep a screenshot of every page visited (docs/screenshots/patient-*.png
come from here).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import update

from db.models import EnrolmentLink, OAuthState
from services.accounts.actor import HOST
from services.sandbox import SandboxServer
from services.sandbox.oauth import F_DECISION, F_SCOPE, F_USER
from services.vendors.fitbit import METRICS, SLEEP
from tests.connect.conftest import count, query

from .conftest import CLINIC, CONTACT, Width

# words of the software and the protocol, and of the coordinator, that have no place on a patient's page
NOT_FOR_PATIENTS = re.compile(r"\b(wearsync|oauth|token|state|callback|redirect|scope|patient|sign-in link|"
                              r"enrolment|consent page|authori[sz]\w*)\b", re.IGNORECASE)
ACCOUNTS = {"fitbit": "anna", "withings": "emil", "polar": "greta"}
LABELS = {"fitbit": "Fitbit", "withings": "Withings", "polar": "Polar"}


class Patient:
    """The patient's browser: opens pages, reads them as a person would, and answers the vendor's consent."""

    def __init__(self, driver: Any, width: Width, name: str) -> None:
        self.driver = driver
        self.width = width
        self.name = name
        self.seen: list[str] = []

    def open(self, url: str, shot: str | None = None) -> str:
        self.driver.get(url)
        return self.read(shot)

    def read(self, shot: str | None = None) -> str:
        from selenium.webdriver.common.by import By

        text = str(self.driver.find_element(By.TAG_NAME, "body").text)
        if self.driver.title != "Sandbox consent":
            self.check_patient_page(text)
        if shot:
            self.screenshot(shot)
        return text

    def check_patient_page(self, text: str) -> None:
        """What every patient page must be: the clinic and its contact shown, words for the patient,
        nothing wider than the screen."""
        from selenium.webdriver.common.by import By

        self.seen.append(self.driver.page_source)
        assert CLINIC in text and CONTACT in text, text
        bad = NOT_FOR_PATIENTS.findall(text)
        assert not bad, f"coordinator or product words on a patient page: {bad}\n{text}"
        assert self.driver.find_element(By.CSS_SELECTOR, ".brand").text == CLINIC  # who asks, at the top
        logo = self.driver.find_element(By.CSS_SELECTOR, "img.logo")
        assert self.driver.execute_script("return arguments[0].naturalWidth", logo) > 0  # served and allowed
        assert self.driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"), "the page is wider than the screen"

    def heading(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def click_button(self, label: str) -> None:
        from selenium.webdriver.common.by import By

        before = self.driver.title
        self.driver.find_element(By.LINK_TEXT, label).click()
        self.wait_for_leaving(before)

    def consent(self, account: str, decision: str = "allow", untick: tuple[str, ...] = (),
                shot: str | None = None) -> str:
        """On the sandbox vendor's consent page: choose the account, untick data, press Allow or Deny."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        assert self.driver.title == "Sandbox consent", self.driver.page_source
        Select(self.driver.find_element(By.NAME, F_USER)).select_by_value(account)
        for scope in untick:
            self.driver.find_element(By.CSS_SELECTOR, f'input[name="{F_SCOPE}"][value="{scope}"]').click()
        if shot:
            self.screenshot(shot)
        self.driver.find_element(By.CSS_SELECTOR, f'button[name="{F_DECISION}"][value="{decision}"]').click()
        self.wait_for_leaving("Sandbox consent")
        return self.read()

    def wait_for_leaving(self, title: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 15).until(lambda d: d.title != title and d.execute_script(
            "return document.readyState") == "complete")

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("WEARSYNC_SCREENSHOT_DIR")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(Path(folder) / f"patient-{name}-{self.width.name}.png"))


@pytest.fixture
def patient(browser: Any, width: Width) -> Patient:
    return Patient(browser, width, "")


def status(app: Any, code: str, vendor: str) -> str:
    return str(app.connections.get(code, vendor).status)


@pytest.mark.parametrize("vendor", ["fitbit", "withings", "polar"])
def test_enrolment_intro_consent_success_reload(clinic_app: Any, srv: SandboxServer, patient: Patient,
                                                vendor: str) -> None:
    label = LABELS[vendor]
    link = clinic_app.connections.create_enrolment_link("RSC-0417", vendor, HOST)
    intro = patient.open(link.url, shot=f"intro-{vendor}")
    assert patient.heading() == f"Connect your {label} account"
    assert "What you share" in intro and "You can stop sharing at any time" in intro
    assert f"Continue to {label}" in intro
    assert count(clinic_app.db, OAuthState) == 0  # reading the introduction starts nothing, uses nothing
    patient.open(link.url)  # nor does reading it twice
    patient.driver.get(link.url + "/continue")  # to the vendor, then back: the same pending consent is reused
    first_consent = patient.driver.current_url
    patient.open(link.url)
    patient.click_button(f"Continue to {label}")
    assert patient.driver.current_url == first_consent and count(clinic_app.db, OAuthState) == 1
    done = patient.consent(ACCOUNTS[vendor], shot=f"consent-{vendor}")
    assert patient.heading() == "You're connected", done
    assert "What happens next" in done and done.rstrip().endswith(CONTACT)
    assert "You can close this page." in done and "Nothing was" not in done
    if vendor == "polar":
        assert "from today on" in done
    patient.screenshot(f"connected-{vendor}")
    assert status(clinic_app, "RSC-0417", vendor) == "connected"
    # a reload of the success page is still the success page, not an error
    patient.driver.refresh()
    assert patient.read() == done and "/done/" in patient.driver.current_url
    result_url = patient.driver.current_url
    # the used link, opened again after success, says so
    again = patient.open(link.url, shot=f"already-{vendor}")
    assert patient.heading() == "You're already connected" and "nothing more to do" in again
    assert len([c for c in srv.calls if c.kind == "token" and c.vendor == vendor]) == 1
    # withdrawn later: the kept page no longer claims a connection
    clinic_app.connections.revoke("RSC-0417", vendor, HOST)
    patient.open(result_url)
    assert patient.heading() == "This page is no longer available"


def test_deny_then_reopen_then_allow(clinic_app: Any, patient: Patient) -> None:
    link = clinic_app.connections.create_enrolment_link("RSC-0520", "withings", HOST)
    patient.open(link.url)
    patient.click_button("Continue to Withings")
    denied = patient.consent("emil", decision="deny")
    assert patient.heading() == "Nothing was shared"
    assert f"open the link from {CLINIC} again" in denied and "Nothing was shared." in denied
    assert "Nothing was saved" not in denied
    patient.screenshot("denied")
    assert status(clinic_app, "RSC-0520", "withings") == "not_connected"
    patient.open(link.url)  # the link still works after a "no"
    assert patient.heading() == "Connect your Withings account"
    patient.click_button("Continue to Withings")
    patient.consent("emil")
    assert patient.heading() == "You're connected"
    assert status(clinic_app, "RSC-0520", "withings") == "connected"


def test_partial_consent_says_what_was_not_shared(clinic_app: Any, patient: Patient) -> None:
    link = clinic_app.connections.create_enrolment_link("RSC-0611", "fitbit", HOST)
    patient.open(link.url)
    patient.click_button("Continue to Fitbit")
    text = patient.consent("ben", untick=(METRICS, SLEEP))
    assert patient.heading() == "You're connected"
    assert "You chose not to share your heart rate and your sleep." in text
    patient.screenshot("partial")


def test_account_linked_elsewhere_names_no_other_patient(clinic_app: Any, srv: SandboxServer,
                                                         patient: Patient) -> None:
    first = clinic_app.connections.begin("RSC-0100", "fitbit", HOST)
    assert clinic_app.connections.handle_callback(query(srv.approve(first.authorize_url, "anna"))).ok
    link = clinic_app.connections.create_enrolment_link("RSC-0201", "fitbit", HOST)
    patient.open(link.url)
    patient.click_button("Continue to Fitbit")
    text = patient.consent("anna")
    assert patient.heading() == "This account is already in use"
    assert "another person" in text and "Nothing was saved." in text
    patient.screenshot("in-use")
    source = patient.driver.page_source
    assert "RSC-0100" not in source and "RSC-0201" not in source
    patient.driver.refresh()  # the reloaded page too
    assert "RSC-0100" not in patient.driver.page_source
    assert status(clinic_app, "RSC-0201", "fitbit") == "not_connected"
    refused = [e for e in clinic_app.audit.entries() if e.action == "connection.refused"]
    assert [e.target for e in refused] == ["RSC-0201/fitbit"] and "RSC-0100" in refused[0].detail


def test_links_that_cannot_be_used(clinic_app: Any, srv: SandboxServer, patient: Patient) -> None:
    app = clinic_app
    used = app.connections.create_enrolment_link("RSC-0700", "polar", HOST)
    patient.open(used.url)
    patient.click_button("Continue to Polar")
    patient.consent("greta")
    app.connections.revoke("RSC-0700", "polar", HOST)  # used, and no longer connected
    text = patient.open(used.url, shot="link-used")
    assert patient.heading() == "This link was already used" and "ask Riverside Sleep Clinic for a new link" in text

    expired = app.connections.create_enrolment_link("RSC-0701", "withings", HOST)
    with app.db.session() as s:
        s.execute(update(EnrolmentLink).where(EnrolmentLink.patient_code == "RSC-0701")
                  .values(expires_at=dt.datetime(2000, 1, 1)))
    text = patient.open(expired.url, shot="link-expired")
    assert patient.heading() == "This link has expired" and "send you a new one" in text

    base = app.environ["WEARSYNC_PUBLIC_URL"]
    text = patient.open(base + "/enrol/not-a-real-link", shot="link-unknown")
    assert patient.heading() == "This link doesn't work" and "whole link" in text
    patient.open(base + "/enrol/not-a-real-link/continue")
    assert patient.heading() == "This link doesn't work"

    removed = app.connections.create_enrolment_link("RSC-0702", "fitbit", HOST)
    app.patients.delete("RSC-0702", HOST)  # its links are voided with it (issue 12: bound to the patient's row)
    patient.open(removed.url)
    assert patient.heading() == "This link is no longer valid"
    renamed = app.connections.create_enrolment_link("RSC-0703", "fitbit", HOST)
    app.patients.rename("RSC-0703", "RSC-0704", HOST)  # the link's patient is no longer there
    text = patient.open(renamed.url, shot="link-void")
    assert patient.heading() == "This link is no longer valid" and "RSC-07" not in patient.driver.page_source
    for page in patient.seen:  # none of these outcomes saved anything, and none claims it did or did not
        assert "Nothing was saved" not in page and "&#10004;" not in page

    text = patient.open(base + "/oauth2_callback?state=forged&code=x", shot="step-invalid")
    assert patient.heading() == "This page can't finish connecting" and "Nothing was saved." in text
    text = patient.open(base + "/no-such-page", shot="not-found")
    assert patient.heading() == "Page not found" and "Nothing was" not in text
    text = patient.open(base + "/done/from-before-a-restart", shot="result-gone")
    assert patient.heading() == "This page is no longer available" and "Nothing was" not in text


def test_connect_here_advice_is_for_the_staff_helping(clinic_app: Any, srv: SandboxServer, patient: Patient) -> None:
    pending = clinic_app.connections.begin("RSC-0800", "polar", HOST)
    patient.driver.get(pending.authorize_url)  # "Connect here": the vendor's page opens on the clinic's computer
    text = patient.consent("greta", decision="deny")
    assert "tell the person from Riverside Sleep Clinic who is helping you" in text
    assert "open the link" not in text
    # the vendor ends the sign-in with an error of its own: not the patient's choice, and nothing saved
    again = clinic_app.connections.begin("RSC-0800", "polar", HOST)
    text = patient.open(f"{clinic_app.environ['WEARSYNC_PUBLIC_URL']}/oauth2_callback?state={again.state}"
                        "&error=server_error", shot="vendor-error")
    assert patient.heading() == "Not connected" and "Polar did not finish connecting your account." in text
    assert "ask the person from Riverside Sleep Clinic who is helping you to start again" in text
    assert text.count("Nothing was saved.") == 1 and "chose" not in text


def test_root_page_favicon_and_security_headers(clinic_app: Any, patient: Patient) -> None:
    base = clinic_app.environ["WEARSYNC_PUBLIC_URL"]
    text = patient.open(base + "/", shot="root")
    assert patient.heading() == "Connecting your devices" and "open the link" in text
    assert "&#10004;" not in patient.driver.page_source and "\u2714" not in text  # no success tick: nothing happened
    # the inline style is allowed by the policy (a blocked style would leave the default white background)
    assert patient.driver.execute_script(
        "return getComputedStyle(document.body).backgroundColor") == "rgb(243, 246, 249)"
    link = clinic_app.connections.create_enrolment_link("RSC-0900", "fitbit", HOST)
    for path in ("/", link.url[len(base):], link.url[len(base):] + "/continue", "/done/unknown",
                 "/oauth2_callback?state=x", "/favicon.ico", "/clinic-logo", "/nothing-here"):
        r = requests.get(base + path, allow_redirects=False, timeout=10)
        csp = r.headers.get("Content-Security-Policy", "")
        assert csp.startswith("default-src 'none'") and "style-src 'unsafe-inline'" in csp, path
        assert "script-src" not in csp and "frame-ancestors 'none'" in csp, path
        assert r.headers.get("X-Frame-Options") == "DENY" and r.headers.get("X-Content-Type-Options") == "nosniff"
        assert r.headers.get("Referrer-Policy") == "no-referrer" and r.headers.get("Cache-Control") == "no-store"
    icon = requests.get(base + "/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.headers["Content-Type"] == "image/svg+xml" and b"<svg" in icon.content
    assert requests.get(base + "/clinic-logo", timeout=10).content.startswith(b"\x89PNG")
    # the browser asked for the icon the page names, and got it
    entries = patient.driver.execute_script(
        "return Array.from(document.querySelectorAll('link[rel=icon]')).map(l => l.href)")
    assert entries == [base + "/favicon.ico"]


def test_headings_keep_words_together_at_200_percent_text(clinic_app: Any, srv: SandboxServer,
                                                          patient: Patient) -> None:
    def check(shot: str) -> None:
        # the reader's own text size at 200 % (what a browser's text-size setting does)
        patient.driver.execute_script("document.documentElement.style.fontSize = '200%'")
        patient.screenshot(shot)
        for title, rows in patient.driver.execute_script("""
            return Array.from(document.querySelectorAll('h1, h2')).map(h => {
              const r = document.createRange(); r.selectNodeContents(h);
              const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));
              return [h.textContent.trim(), tops.size];
            });"""):
            words = len(title.split())
            assert words < 3 or rows < words, f"{title!r} breaks into {rows} lines at 200 % text"
        assert patient.driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"), patient.driver.current_url

    link = clinic_app.connections.create_enrolment_link("RSC-1000", "withings", HOST)
    patient.open(link.url)
    check("intro-200-percent")
    patient.click_button("Continue to Withings")
    patient.consent("emil")
    check("connected-200-percent")
    patient.open(link.url)
    check("already-200-percent")
    patient.open(clinic_app.environ["WEARSYNC_PUBLIC_URL"] + "/enrol/unknown")
    check("link-unknown-200-percent")
