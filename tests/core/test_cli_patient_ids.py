"""Patient IDs from the command line: letters, digits, '-', '_' and '.' only, for `patients add`,
`patients rename` and `connect` (which creates the patient); one sentence on stderr, nothing changed;
older IDs outside that set are marked in `patients list` (issue 12, item 3a)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

RULE = ("wearsync: A patient ID may contain only letters, digits, '-', '_' and '.' (1 to 64 characters, "
        "no spaces), for example P-001.\n")


def _one_sentence(result) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 1
    assert result.stderr == RULE
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("code", ["P\\'1", "Zoë 1"])
def test_cli_refuses_new_ids_outside_the_rule_and_changes_nothing(run_cli, code: str) -> None:
    assert run_cli("patients", "add", "P-1", "--vendor", "fitbit").returncode == 0
    before = run_cli("patients", "list", "--csv").stdout
    audit_before = run_cli("audit").stdout

    _one_sentence(run_cli("patients", "add", code, "--vendor", "polar"))
    _one_sentence(run_cli("patients", "rename", "P-1", code))
    _one_sentence(run_cli("patients", "rename", "P-1", code, "--vendor", "fitbit"))
    _one_sentence(run_cli("connect", "fitbit", code, "--no-browser", "--timeout", "1",
                          env={"FITBIT_CLIENT_ID": "invented-id", "FITBIT_CLIENT_SECRET": "invented-secret",
                               "WEARSYNC_CALLBACK_PORT": str(_free_port())}))

    assert run_cli("patients", "list", "--csv").stdout == before
    assert run_cli("audit").stdout == audit_before


def test_patients_list_marks_older_ids_to_rename(run_cli, tmp_path: Path) -> None:
    from db.engine import Database
    from db.models import Patient

    assert run_cli("patients", "add", "P-1").returncode == 0
    db = Database(f"sqlite:///{Path(os.environ['WEARSYNC_HOME']) / 'wearsync.sqlite3'}")
    with db.session() as s:
        s.add(Patient(code="Zoë 03", note="", created_at=dt.datetime(2026, 1, 1)))
    db.dispose()

    listed = run_cli("patients", "list")

    assert listed.returncode == 0, listed.stderr
    lines = dict(line.split("\t", 1) for line in listed.stdout.splitlines())
    assert "rename this ID" in lines["Zoë 03"] and "rename" not in lines["P-1"]
    assert run_cli("patients", "rename", "Zoë 03", "P-3").returncode == 0
    assert "rename this ID" not in run_cli("patients", "list").stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
