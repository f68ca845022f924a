"""`main.py patients ...` black-box: exit codes, one-line reasons, nothing changed on bad input."""

from __future__ import annotations


def test_patients_cli_round_trip(run_cli) -> None:
    assert run_cli("patients", "add", "P-001", "--vendor", "fitbit", "--vendor", "withings").returncode == 0
    dup = run_cli("patients", "add", "P-001", "--vendor", "fitbit")
    assert dup.returncode == 1
    assert dup.stderr.startswith("wearsync: ") and "already has a Fitbit" in dup.stderr
    assert dup.stderr.count("\n") == 1
    bad = run_cli("patients", "add", "  ")
    assert bad.returncode == 1 and "Enter a patient ID" in bad.stderr
    unknown = run_cli("patients", "add", "X", "--vendor", "garmin")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    r = run_cli("patients", "rename", "P-001", "P-002", "--vendor", "withings")
    assert r.returncode == 0, r.stderr
    listing = run_cli("patients", "list", "--csv").stdout.splitlines()
    assert listing == ["patient,vendor,status,last_sync_utc", "P-001,fitbit,not_connected,",
                       "P-002,withings,not_connected,"]
    refused = run_cli("patients", "delete", "P-001")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert run_cli("patients", "delete", "P-001", "--yes").returncode == 0
    assert "P-001" not in run_cli("patients", "list").stdout
    assert run_cli("patients", "undo").returncode == 0
    assert "P-001" in run_cli("patients", "list").stdout


def test_version_and_help(run_cli) -> None:
    v = run_cli("--version")
    assert v.returncode == 0 and v.stdout.startswith("WearSync ")
    h = run_cli("--help")
    for word in ("--headless", "--sandbox", "db", "patients"):
        assert word in h.stdout
