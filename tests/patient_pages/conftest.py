"""A real browser for the patient's pages: Debian's Chromium, headless, driven by Selenium through the
system chromedriver; one browser per test module, a fresh profile, phone and desktop widths.

Where no Chromium can be installed the browser tests skip and say why; in CI (`.ci/run` installs
`chromium` and `chromium-driver`) a missing browser is a failure, as a missing MariaDB is.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.sandbox import SandboxServer
from tests.connect.conftest import TODAY, free_port

CHROMEDRIVER = "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI") == "true"  # .ci/run installs the browser: missing there is a failure
CLINIC = "Riverside Sleep Clinic"
CONTACT = "030 1234 5678 or study@riverside.example"


@dataclass(frozen=True)
class Width:
    name: str
    width: int
    height: int
    mobile: bool


PHONE = Width("phone", 390, 844, True)
DESKTOP = Width("desktop", 1280, 900, False)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """None when a browser can be driven here, else the reason."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the dev dependency group: bootstrap.py sync)"
    if _chromium() is None:
        return "no Chromium on this machine (Debian: apt-get install chromium chromium-driver)"
    if not os.access(CHROMEDRIVER, os.X_OK):
        return f"no {CHROMEDRIVER} (Debian: apt-get install chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = browser_missing()
    if reason:
        if IN_CI:
            pytest.fail("CI must run the browser tests: " + reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(_chromium())
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                f"--window-size={DESKTOP.width},{DESKTOP.height}", "--lang=en-GB"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(params=[PHONE, DESKTOP], ids=lambda w: w.name)
def width(request: pytest.FixtureRequest, browser: Any) -> Width:
    w: Width = request.param
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": w.width, "height": w.height, "deviceScaleFactor": 1, "mobile": w.mobile})
    browser.delete_all_cookies()
    return w


def logo_png(size: int = 96) -> bytes:
    """An invented clinic logo: a white cross on a teal rounded square, as a PNG (no image library needed)."""
    rows = []
    r = size / 5
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            cx, cy = min(x, size - 1 - x), min(y, size - 1 - y)  # distance from the nearest edges
            inside = not (cx < r and cy < r and (r - cx) ** 2 + (r - cy) ** 2 > r * r)
            cross = (abs(x - size / 2) < size / 9 and abs(y - size / 2) < size / 3.2) or (
                abs(y - size / 2) < size / 9 and abs(x - size / 2) < size / 3.2)
            row += bytes((255, 255, 255, 255) if inside and cross else (15, 118, 110, 255) if inside else (0, 0, 0, 0))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=TODAY) as s:
        yield s


@pytest.fixture
def clinic_app(sqlite_app: Any, srv: SandboxServer, tmp_path: Path) -> Iterator[Any]:
    """An app on the sandbox vendors with its listener running and the clinic's name, contact and logo set."""
    app = sqlite_app
    port = free_port()
    app.environ.update(srv.environ())
    app.environ.update(srv.credentials_environ())
    app.environ["WEARSYNC_CALLBACK_PORT"] = str(port)
    app.environ["WEARSYNC_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    logo = tmp_path / "clinic-logo.png"
    logo.write_bytes(logo_png())
    app.settings.set("clinic_name", CLINIC)
    app.settings.set("clinic_contact", CONTACT)
    app.settings.set("clinic_logo", str(logo))
    app.connections.start_listener()
    try:
        yield app
    finally:
        app.connections.stop_listener()
