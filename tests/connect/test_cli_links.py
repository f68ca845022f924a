"""`main.py links create|list|revoke` black-box: the address alone on stdout, the QR code written, the expiry
asked for, a cancelled link refused on the patient's page, bad input refused with one sentence."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from services.clock import Clock
from services.sandbox import SandboxServer

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def intro(cli: Any, token: str) -> Any:
    """What the patient's phone shows first for this link (the callback listener's own service)."""
    from services.app import WearSync

    app = WearSync.open(cli.env())
    try:
        return app.connections.enrolment_intro(token)
    finally:
        app.close()


@SQLITE_ONLY
def test_links_create_list_revoke(cli: Any, srv: SandboxServer, tmp_path: Path) -> None:
    qr = tmp_path / "link.png"
    r = cli.run("links", "create", "P-LINK", "--vendor", "withings", "--expires", "2", "--qr", str(qr))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and "/enrol/" in lines[0]  # the address alone, for a script to pass on
    url = lines[0]
    assert qr.read_bytes().startswith(b"\x89PNG") and "valid until" in r.stderr
    assert "only works on this computer" in r.stderr  # no tunnel in the test
    token = url.rsplit("/", 1)[1]
    page = intro(cli, token)
    assert page.ok and page.action is not None and "Withings" in page.action[0]

    listing = cli.run("links", "list")
    row = next(x for x in listing.stdout.splitlines() if "P-LINK" in x)
    link_id = row.split()[0]
    assert "withings" in row and "open" in row and token not in listing.stdout  # the secret never shown
    expires = dt.datetime.strptime(" ".join(row.split()[4:6]), "%Y-%m-%d %H:%M")
    now = Clock.from_environ(os.environ).utcnow()  # the clock the command read (the CI offset included)
    assert dt.timedelta(hours=1, minutes=58) < expires - now \
        <= dt.timedelta(hours=2)

    rv = cli.run("links", "revoke", link_id)
    assert rv.returncode == 0 and "can no longer be used" in rv.stdout
    page = intro(cli, token)
    assert not page.ok and "P-LINK" not in page.message
    assert "P-LINK" not in cli.run("links", "list").stdout
    assert "cancelled" in next(x for x in cli.run("links", "list", "--all").stdout.splitlines() if "P-LINK" in x)
    again = cli.run("links", "revoke", link_id)
    assert again.returncode == 1 and "already used or cancelled" in again.stderr
    assert "enrolment.revoke" in cli.run("audit").stdout


@SQLITE_ONLY
def test_links_bad_input(cli: Any, tmp_path: Path) -> None:
    for args, words in ((["create", "P-L2", "--vendor", "polar", "--expires", "0"], "1 to 720 hours"),
                        (["create", "P-L2", "--vendor", "polar", "--qr", str(tmp_path / "no" / "x.png")],
                         "QR code"),
                        (["revoke", "zz"], "not a link id"),
                        (["revoke", "abcdef12"], "no enrolment link")):
        r = cli.run("links", *args)
        assert r.returncode == 1, (args, r.stdout)
        assert r.stderr.startswith("wearsync: ") and words in r.stderr and "Traceback" not in r.stderr
    assert "P-L2" not in cli.run("patients", "list").stdout  # nothing created by a refused link
    missing = cli.run("links", "create", "P-L3", "--vendor", "fitbit",
                      extra={"FITBIT_CLIENT_ID": "", "FITBIT_CLIENT_SECRET": ""})
    assert missing.returncode == 1 and "FITBIT_CLIENT_ID" in missing.stderr
    assert not os.listdir(tmp_path) or all(not p.name.endswith(".part") for p in tmp_path.iterdir())
