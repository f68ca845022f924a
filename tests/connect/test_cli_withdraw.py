"""`main.py patients withdraw` black-box against the sandbox: the vendors are told, the grant is forgotten,
the data goes or stays as the patient chose; refusals change nothing."""

from __future__ import annotations

import pytest

from db.engine import Database
from db.models import Connection, HeartRateSample, Patient
from services.sandbox import SandboxServer
from tests.connect.conftest import count

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_withdraw_from_the_command_line(cli, srv: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    code, _, err, _ = cli.connect("fitbit", "P-W", "anna")
    assert code == 0, err
    code, _, err, _ = cli.connect("polar", "P-W", "greta")
    assert code == 0, err
    assert cli.run("sync", "--patient", "P-W", "--start", "2026-11-19", "--end", "2026-11-20").returncode == 0
    db = Database(cli.url)
    try:
        rows = count(db, HeartRateSample)
        assert rows > 0
        # refusals: no confirmation without a terminal, unknown patient, --vendor with --delete-data
        r = cli.run("patients", "withdraw", "P-W", "--delete-data")
        assert r.returncode == 1 and "--yes" in r.stderr
        r = cli.run("patients", "withdraw", "P-NOBODY", "--keep-data", "--yes")
        assert r.returncode == 1 and r.stderr.startswith("wearsync: ") and "Traceback" not in r.stderr
        r = cli.run("patients", "withdraw", "P-W", "--vendor", "polar", "--delete-data", "--yes")
        assert r.returncode == 1 and "cannot be combined" in r.stderr
        r = cli.run("patients", "withdraw", "P-W", "--yes")
        assert r.returncode == 2  # --keep-data or --delete-data is required: the choice is never implied
        assert not [c for c in srv.calls if c.kind == "revoke" or c.method == "DELETE"]
        assert count(db, HeartRateSample) == rows

        # one device type: Polar is told (de-registration), its grant forgotten, data kept
        r = cli.run("patients", "withdraw", "P-W", "--vendor", "polar", "--keep-data", "--yes")
        assert r.returncode == 0, r.stderr
        assert [c.method for c in srv.calls if c.vendor == "polar" and c.method == "DELETE"] == ["DELETE"]
        with db.session() as s:
            st = {c.vendor: (c.status, c.token_ciphertext is None) for c in s.query(Connection)}
        assert st == {"fitbit": ("connected", False), "polar": ("withdrawn", True)}

        # the whole patient, data deleted at once
        r = cli.run("patients", "withdraw", "P-W", "--delete-data", "--yes")
        assert r.returncode == 0, r.stderr
        assert "withdrawn" in r.stdout and "data rows deleted" in r.stdout
        assert [c.method for c in srv.calls if c.vendor == "fitbit" and c.kind == "revoke"] == ["POST"]
        assert count(db, HeartRateSample) == 0 and count(db, Patient) == 0
        audit = cli.run("audit").stdout
        assert "patient.withdraw" in audit and "connection.revoke" in audit
    finally:
        db.dispose()
