"""Fixtures for the device tests: the app's clock stopped at noon in Berlin on the app's own today
(so any CI date offset moves it), a sandbox on that clock, and a local SMTP server for the digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.sandbox import SandboxServer
from tests.flow.test_mail import PASSWORD, SENDER
from tests.support.smtp_server import SmtpTestServer

BERLIN = ZoneInfo("Europe/Berlin")


def noon_today(app: Any) -> dt.datetime:
    """Pin the app's clock at 12:00 Berlin time on whatever day the app's clock says it is."""
    app.clock.tz = BERLIN
    today = app.clock.today()
    at = dt.datetime(today.year, today.month, today.day, 12, 0, tzinfo=BERLIN)
    app.clock.pin(at)
    return at


@pytest.fixture
def mail() -> Iterator[SmtpTestServer]:
    with SmtpTestServer(username=SENDER, password=PASSWORD) as srv:
        yield srv


def sandbox_on(app: Any) -> SandboxServer:
    """A sandbox whose today and wall clock are the app's (pin the clock first)."""
    return SandboxServer(seed=1, today=app.clock.today(), clock=app.clock)
