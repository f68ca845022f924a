"""Black-box: `main.py connect` → consent in the sandbox → callback → `main.py sync` → `main.py export`,
for each vendor, checked against the sandbox's own generated data; a second sync changes nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from db.engine import Database
from services.sandbox import SandboxServer
from services.sandbox.model import day_data, polar_exercise, withings_night
from services.sandbox.withings import STATE, _summary_data

from .conftest import MEASUREMENTS, table_digest

DAY = date(2026, 11, 20)


def z(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def sync_twice_changes_nothing(cli, vendor: str, start: str, end: str) -> None:  # type: ignore[no-untyped-def]
    db = Database(cli.url)
    try:
        before = table_digest(db, MEASUREMENTS)
        again = cli.run("sync", "--vendor", vendor, "--start", start, "--end", end)
        assert again.returncode == 0, again.stderr
        assert table_digest(db, MEASUREMENTS) == before
    finally:
        db.dispose()


def test_fitbit_connect_sync_export(cli, srv: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    code, out, err, page = cli.connect("fitbit", "P-FIT", "anna")
    assert code == 0, err
    url_line = out.splitlines()[0]
    assert url_line.startswith(srv.endpoints("fitbit")["authorize_url"] + "?")
    assert "code_challenge_method=S256" in url_line and "access_type=offline" in url_line
    assert "You&#x27;re connected" in page or "You're connected" in page
    assert "Connected Fitbit for patient P-FIT" in err

    r = cli.run("sync", "--patient", "P-FIT", "--start", "2026-11-19", "--end", "2026-11-20")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "P-FIT fitbit 2026-11-19..2026-11-20" in r.stdout

    r = cli.run("export", "--vendor", "fitbit", "--patient", "P-FIT", "--metric", "heart_rate",
                "--start", "2026-11-20", "--end", "2026-11-20")
    assert r.returncode == 0, r.stderr
    dd = day_data(1, "anna", "Europe/Berlin", DAY, True)
    berlin = ZoneInfo("Europe/Berlin")
    expected = ["timestamp,bpm,kind,date,local_time"] + [  # UTC, and the patient's wall clock beside it
        f"{z(t)},{bpm},sample,2026-11-20,{datetime.fromtimestamp(t, berlin).isoformat()}" for t, bpm in dd.hr]
    assert r.stdout.splitlines() == expected

    r = cli.run("export", "--vendor", "fitbit", "--patient", "P-FIT", "--metric", "steps",
                "--start", "2026-11-20", "--end", "2026-11-20")
    rows = parse(r.stdout)
    assert [(x["timestamp"], int(x["steps"])) for x in rows] == [(z(t), c) for t, c in dd.steps]
    assert r.stdout.startswith("timestamp,steps,")

    r = cli.run("export", "--vendor", "fitbit", "--patient", "P-FIT", "--metric", "resting_heart_rate",
                "--start", "2026-11-19", "--end", "2026-11-20")
    assert r.stdout.splitlines() == [
        "date,bpm",
        f"2026-11-19,{day_data(1, 'anna', 'Europe/Berlin', date(2026, 11, 19), True).resting_hr}",
        f"2026-11-20,{dd.resting_hr}",
    ]
    sync_twice_changes_nothing(cli, "fitbit", "2026-11-19", "2026-11-20")


# MariaDB runs the Fitbit flow here and everything in-process; the other vendors once, on SQLite
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_withings_connect_sync_export(cli, srv: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    code, out, err, _page = cli.connect("withings", "P-WIT", "emil")
    assert code == 0, err
    assert "action" not in out.splitlines()[0] and "scope=user.info%2Cuser.metrics" in out.splitlines()[0]

    r = cli.run("sync", "--vendor", "withings", "--start", "2026-11-19", "--end", "2026-11-20")
    assert r.returncode == 0, r.stderr + r.stdout

    night = withings_night(1, "emil", "Europe/Berlin", DAY)
    data = _summary_data(night)
    r = cli.run("export", "--vendor", "withings", "--patient", "P-WIT", "--metric", "sleep",
                "--start", "2026-11-20", "--end", "2026-11-20")
    rows = parse(r.stdout)
    assert r.stdout.startswith("start,end,minutes_asleep,minutes_awake,deep_minutes,light_minutes,rem_minutes")
    assert len(rows) == 1
    row = rows[0]
    assert (row["start"], row["end"], row["date"]) == (z(night.session.start), z(night.session.end), "2026-11-20")
    assert int(row["minutes_asleep"]) == round(data["total_sleep_time"] / 60)
    assert int(row["deep_minutes"]) == round(data["deepsleepduration"] / 60)
    assert row["score"] == (str(data["sleep_score"]) if "sleep_score" in data else "")

    r = cli.run("export", "--vendor", "withings", "--patient", "P-WIT", "--metric", "sleep_stages",
                "--start", "2026-11-20", "--end", "2026-11-20")
    names = {0: "wake", 1: "light", 2: "deep", 3: "rem"}
    assert [(x["start"], x["end"], x["stage"]) for x in parse(r.stdout)] == [
        (z(st.start), z(st.end), names[STATE[st.kind]]) for st in night.session.stages
    ]
    r = cli.run("export", "--vendor", "withings", "--patient", "P-WIT", "--metric", "respiratory_rate",
                "--start", "2026-11-19", "--end", "2026-11-20")
    got = {x["timestamp"]: float(x["breaths_per_minute"]) for x in parse(r.stdout)}
    for t, v in night.rr:
        assert got[z(t)] == v
    sync_twice_changes_nothing(cli, "withings", "2026-11-19", "2026-11-20")


@SQLITE_ONLY
def test_polar_connect_sync_export(cli, srv: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    code, _out, err, _page = cli.connect("polar", "P-POL", "greta")
    assert code == 0, err
    assert srv.user("polar", "greta").registered  # type: ignore[union-attr]
    assert [c.status for c in srv.calls if c.path == "/v3/users" and c.method == "POST"] == [200]

    r = cli.run("sync", "--patient", "P-POL", "--start", "2026-11-16", "--end", "2026-11-17")
    assert r.returncode == 0, r.stderr + r.stdout
    r = cli.run("export", "--vendor", "polar", "--patient", "P-POL", "--metric", "exercises",
                "--start", "2026-11-16", "--end", "2026-11-17")
    assert r.stdout.startswith("start,end,sport,avg_hr,max_hr")
    expected = []
    samples = 0
    for d in (16, 17):
        ex = polar_exercise(1, "greta", "Europe/Berlin", date(2026, 11, d))
        if ex is None:
            continue
        valid = [v for v in ex.hr_samples if v > 0]
        samples += len(valid)
        expected.append((z(ex.start), z(ex.end), ex.sport, str(round(sum(valid) / len(valid))), str(max(valid))))
    assert expected, "the sandbox should have exercises in this week"
    assert [(x["start"], x["end"], x["sport"], x["avg_hr"], x["max_hr"]) for x in parse(r.stdout)] == expected
    r = cli.run("export", "--vendor", "polar", "--patient", "P-POL", "--metric", "heart_rate",
                "--start", "2026-11-16", "--end", "2026-11-18")
    hr = parse(r.stdout)
    assert len(hr) == samples and all(x["bpm"] != "0" and x["kind"] == "exercise" for x in hr)
    sync_twice_changes_nothing(cli, "polar", "2026-11-16", "2026-11-17")


@SQLITE_ONLY
def test_export_header_only_and_bad_input(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli.run("patients", "add", "P-EMPTY", "--vendor", "fitbit").returncode == 0
    r = cli.run("export", "--vendor", "fitbit", "--patient", "P-EMPTY", "--metric", "sleep",
                "--start", "2026-11-01", "--end", "2026-11-02")
    assert r.returncode == 0 and r.stdout == (
        "start,end,minutes_asleep,minutes_awake,deep_minutes,light_minutes,rem_minutes,date,main_sleep,score,"
        "efficiency,hr_average,rr_average,snoring_s,apnea_hypopnea_index,wakeup_count,sleep_latency_s,hr_min,"
        "hr_max,rr_min,rr_max,snoring_episodes,external_id,time_in_bed_s,duration_to_sleep_s,duration_to_wakeup_s,"
        "wakeup_latency_s,waso_s,out_of_bed_count,rem_episodes,breathing_disturbances_intensity,"
        "start_local,end_local\n")
    r = cli.run("export", "--vendor", "fitbit", "--patient", "P-EMPTY", "--metric", "sleep",
                "--start", "2026-11-02", "--end", "2026-11-01")
    assert r.returncode == 1 and r.stdout == "" and "before --start" in r.stderr
    r = cli.run("sync", "--start", "2026-11-02", "--end", "2026-11-01")
    assert r.returncode == 1 and "Swap" in r.stderr
    r = cli.run("export", "--vendor", "fitbit", "--patient", "P-EMPTY", "--metric", "weight",
                "--start", "2026-11-01", "--end", "2026-11-02")
    assert r.returncode == 1 and "Unknown metric" in r.stderr
    r = cli.run("connect", "garmin", "P-1", "--no-browser")
    assert r.returncode == 1 and "Unknown device type" in r.stderr
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", cli.callback_port))
        busy.listen()
        r = cli.run("connect", "polar", "P-BUSY", "--no-browser")
    assert r.returncode == 1 and "WEARSYNC_CALLBACK_PORT" in r.stderr and r.stdout == ""
    assert "P-BUSY" not in cli.run("patients", "list").stdout  # nothing changed
    code, out, err, page = cli.connect("polar", "P-NO", "greta", decision="deny")
    assert code == 1 and "declined" in err and "chose not to allow access" in page
    assert len(out.strip().splitlines()) == 1  # the URL alone
