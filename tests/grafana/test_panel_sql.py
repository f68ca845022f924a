"""Every panel query, with Grafana's variables and macros expanded as Grafana does, runs on MariaDB
as the read-only account and returns the shape its panel type needs; deleted patients never show."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from services.reach.grafana_dashboards import PATIENT_VARIABLE_SQL, STAGE_COLOURS, dashboards
from services.reach.grafana_macros import expand_macros
from tests.grafana.conftest import GrafanaDb

NUMBER = (int, float, decimal.Decimal)


def _queries() -> Iterator[Any]:
    for stem, dash in dashboards().items():
        for panel in dash["panels"]:
            for t in panel["targets"]:
                yield pytest.param(stem, panel, t, id=f"{stem}-{panel['id']}-{t['refId']}-{panel['title']}")


def run(db: GrafanaDb, panel: dict[str, Any], sql: str, patient: str | None = None,
        days: int = 7) -> tuple[list[str], list[tuple[Any, ...]]]:
    now = db.population.now + dt.timedelta(minutes=1)
    variables = {}
    if patient is not None:  # the variable's value is the row id, as PATIENT_VARIABLE_SQL lists it
        with db.reader.connect() as c:
            row_id = c.execute(sa.text("SELECT id FROM patient_ids WHERE code = :c"), {"c": patient}).scalar()
        variables["patient"] = str(row_id)
    expanded = expand_macros(sql, now - dt.timedelta(days=days), now, panel.get("interval", "1m"), variables)
    assert "$" not in expanded, expanded
    with db.reader.connect() as c:
        c.execute(sa.text("SET time_zone = '+00:00'"))  # what the data source's timezone setting does
        # MySQL 8's default; MariaDB's is laxer, and the dashboards must work on both
        c.execute(sa.text("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ONLY_FULL_GROUP_BY')"))
        result = c.exec_driver_sql(expanded)
        return list(result.keys()), [tuple(r) for r in result]


def _check_time_series(cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    assert cols[0] == "time", cols
    values = cols[1:]
    if "metric" in cols:
        assert cols[1] == "metric"
        assert all(isinstance(r[1], str) for r in rows)
        values = cols[2:]
    assert values, "a time series needs at least one value column"
    times = [int(r[0]) for r in rows]
    assert times == sorted(times), "Grafana wants time series in time order"
    for r in rows:
        assert isinstance(r[0], NUMBER) and not isinstance(r[0], bool)
        assert all(v is None or isinstance(v, NUMBER) for v in r[len(cols) - len(values):]), r


def _check_state_timeline(cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    assert cols[0] == "time" and len(cols) == 2, cols
    assert all(isinstance(r[0], dt.datetime) for r in rows)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert {r[1] for r in rows} <= set(STAGE_COLOURS) | {None}
    if rows:
        assert rows[-1][1] is None, "each night must end with an empty row"


def _check_shape(panel: dict[str, Any], target: dict[str, Any], cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    if target["format"] == "time_series":
        _check_time_series(cols, rows)
    elif panel["type"] == "state-timeline":
        _check_state_timeline(cols, rows)
    elif panel["type"] == "stat":
        assert len(rows) == 1 and len(cols) == 1 and isinstance(rows[0][0], NUMBER), (cols, rows)
    else:
        assert panel["type"] == "table" and len(set(cols)) == len(cols)


@pytest.mark.mariadb
@pytest.mark.parametrize("stem,panel,target", list(_queries()))
def test_panel_query_runs_and_has_the_shape_its_panel_needs(grafana_db: GrafanaDb, stem: str,
                                                            panel: dict[str, Any], target: dict[str, Any]) -> None:
    pop = grafana_db.population
    if stem == "wearsync-clinic":
        cols, rows = run(grafana_db, panel, target["rawSql"])
        assert rows, f"{panel['title']} shows nothing for a populated clinic"
        _check_shape(panel, target, cols, rows)
        assert not any(pop.deleted in str(cell) for r in rows for cell in r), "a deleted patient shows"
        return
    shown = 0
    for code in pop.active:
        cols, rows = run(grafana_db, panel, target["rawSql"], patient=code)
        _check_shape(panel, target, cols, rows)
        shown += len(rows)
    assert shown, f"{panel['title']} shows nothing for any patient"
    _, rows = run(grafana_db, panel, target["rawSql"], patient=pop.deleted)
    assert rows == [], f"{panel['title']} shows a deleted patient's data"


@pytest.mark.mariadb
def test_the_patient_variable_lists_only_patients_not_deleted(grafana_db: GrafanaDb) -> None:
    with grafana_db.reader.connect() as c:
        result = c.exec_driver_sql(PATIENT_VARIABLE_SQL)
        assert list(result.keys()) == ["__value", "__text"]  # Grafana: value = row id, text = patient ID
        rows = result.all()
    assert sorted(r[1] for r in rows) == sorted(grafana_db.population.active)
    assert all(isinstance(r[0], int) for r in rows)


def _panel(stem: str, title: str) -> dict[str, Any]:
    return next(p for p in dashboards()[stem]["panels"] if p["title"] == title)


@pytest.mark.mariadb
def test_clinic_figures_are_right(grafana_db: GrafanaDb) -> None:
    def value(title: str) -> Any:
        p = _panel("wearsync-clinic", title)
        return run(grafana_db, p, p["targets"][0]["rawSql"])[1][0][0]

    assert value("Patients") == 3
    assert value("Devices not synced recently") == 1  # Zoë-03's mat: 2 days, threshold 2 (settings)
    assert value("Connections needing re-consent") == 1  # P-DEL's does not count
    assert value("Connections with errors") == 1

    p = _panel("wearsync-clinic", "Last device sync per patient")
    cols, rows = run(grafana_db, p, p["targets"][0]["rawSql"])
    by_key = {(r[cols.index("patient")], r[cols.index("device_type")]): r for r in rows}
    assert set(by_key) == {("P001", "fitbit"), ("P001", "withings"), ("P002", "fitbit"), ("P002", "polar"),
                           ("Zoë-03", "withings")}
    days = cols.index("days_since_sync")
    assert by_key[("P001", "fitbit")][days] == 0  # the retired watch does not make it look stale
    assert rows[0][cols.index("patient")] == "Zoë-03"  # the stalest first

    p = _panel("wearsync-clinic", "Alerts sent")
    _, rows = run(grafana_db, p, p["targets"][0]["rawSql"])
    assert [r[2] for r in rows] == ["Zoë-03/withings"]


@pytest.mark.mariadb
def test_time_filter_follows_the_dashboard_range(grafana_db: GrafanaDb) -> None:
    p = _panel("wearsync-patient", "Steps per hour")
    _, week = run(grafana_db, p, p["targets"][0]["rawSql"], patient="P001", days=7)
    _, day = run(grafana_db, p, p["targets"][0]["rawSql"], patient="P001", days=1)
    assert 0 < len(day) < len(week)
    start = (grafana_db.population.now - dt.timedelta(days=1)).replace(tzinfo=dt.UTC).timestamp()
    assert min(int(r[0]) for r in day) >= start - 3600


@pytest.mark.mariadb
def test_check_dashboard_queries_reports_every_query_ok(grafana_db: GrafanaDb) -> None:
    from services.reach.grafana_check import check_dashboard_queries

    results = check_dashboard_queries(grafana_db.setup.reader_url, "P002", now=grafana_db.population.now)
    assert len(results) == sum(len(p["targets"]) for d in dashboards().values() for p in d["panels"])
    assert all(r.ok for r in results), [r.line() for r in results if not r.ok]
    assert any(r.panel == "Exercises (Polar)" and r.rows == 1 for r in results)


@pytest.mark.mariadb
def test_a_patient_id_that_once_broke_out_of_the_string_is_only_a_name_in_a_list(grafana_db: GrafanaDb) -> None:
    """Issue 12: `${patient:sqlstring}` only doubles quotes, so an ID with a backslash broke out of the
    string and, as the reader, read `users`. The variable's value is now the row id: the ID text never
    reaches a query, and every patient panel shows that patient's data and nobody else's."""
    evil = "x\\' UNION SELECT password_hash FROM users -- "
    writer = sa.create_engine(grafana_db.setup.database_url, poolclass=sa.NullPool)
    now = grafana_db.population.now
    with writer.begin() as c:  # an older ID, from before the character rule
        pid = c.execute(sa.text("INSERT INTO patients (code, note, created_at) VALUES (:c, '', :t)"),
                        {"c": evil, "t": now}).lastrowid
        c.execute(sa.text("INSERT INTO step_intervals (patient_id, vendor, start_utc, end_utc, utc_offset_s, "
                          "local_date, steps) VALUES (:p, 'fitbit', :s, :e, 0, :d, 4242)"),
                  {"p": pid, "s": now - dt.timedelta(hours=2), "e": now - dt.timedelta(hours=2, minutes=-1),
                   "d": (now - dt.timedelta(hours=2)).date()})
    try:
        with grafana_db.reader.connect() as c:
            options = dict(c.exec_driver_sql(PATIENT_VARIABLE_SQL).all())
        value = next(v for v, text in options.items() if text == evil)
        assert value == pid
        for stem, panel, t in (p.values for p in _queries()):
            if stem != "wearsync-patient":
                continue
            now_plus = now + dt.timedelta(minutes=1)
            sql = expand_macros(t["rawSql"], now_plus - dt.timedelta(days=7), now_plus,
                                panel.get("interval", "1m"), {"patient": str(value)})
            assert evil not in sql and "users" not in sql
            with grafana_db.reader.connect() as c:
                rows = c.exec_driver_sql(sql).all()
            if panel["title"] == "Steps per hour":
                assert [int(r[-1]) for r in rows] == [4242]  # this patient's data, and only it
            elif panel["title"] != "Steps per day":
                assert rows == [], panel["title"]
    finally:
        with writer.begin() as c:
            c.execute(sa.text("DELETE FROM step_intervals WHERE patient_id = :p"), {"p": pid})
            c.execute(sa.text("DELETE FROM patients WHERE id = :p"), {"p": pid})
        writer.dispose()


def _rows_read(c: sa.Connection) -> int:
    status = dict(c.execute(sa.text("SHOW SESSION STATUS LIKE 'Handler_read%'")).tuples().all())
    return sum(int(status[k]) for k in ("Handler_read_first", "Handler_read_key", "Handler_read_next",
                                        "Handler_read_prev", "Handler_read_rnd_next"))


@pytest.mark.mariadb
def test_steps_per_day_reads_the_days_of_the_range_not_the_whole_history(grafana_db: GrafanaDb) -> None:
    """Issue 15: a 24-hour range read every step interval the patient ever had (`local_date` is not
    indexed). The panel now bounds the UTC time by the range's days, so the primary key narrows it;
    a patient-local day still counts every interval on it, at UTC+14 and at UTC-12 alike."""
    day = (grafana_db.population.now - dt.timedelta(days=200)).date()  # clear of the population's data
    midnight = dt.datetime.combine(day, dt.time())
    history = [(midnight - dt.timedelta(days=3, hours=h), 0, 10) for h in range(24 * 120)]  # 120 days before
    edges = [
        (midnight - dt.timedelta(hours=14), 14 * 3600, 1),  # local 00:00 on `day`, at UTC+14
        (midnight + dt.timedelta(hours=35), -12 * 3600, 2),  # local 23:00 on `day`, at UTC-12
        (midnight - dt.timedelta(hours=15), 14 * 3600, 100),  # local 23:00 the day before: not this day
        (midnight + dt.timedelta(hours=36), -12 * 3600, 1000),  # local 00:00 the day after: not this day
    ]
    writer = sa.create_engine(grafana_db.setup.database_url, poolclass=sa.NullPool)
    with writer.begin() as c:
        pid = c.execute(sa.text("INSERT INTO patients (code, note, created_at) VALUES ('HIST-1', '', :t)"),
                        {"t": midnight}).lastrowid
        c.execute(sa.text("INSERT INTO step_intervals (patient_id, vendor, start_utc, end_utc, utc_offset_s, "
                          "local_date, steps) VALUES (:p, 'fitbit', :s, :e, :o, :d, :n)"),
                  [{"p": pid, "s": ts, "e": ts + dt.timedelta(minutes=1), "o": off,
                    "d": (ts + dt.timedelta(seconds=off)).date(), "n": n} for ts, off, n in history + edges])
    try:
        p = _panel("wearsync-patient", "Steps per day")
        sql = expand_macros(p["targets"][0]["rawSql"], midnight + dt.timedelta(minutes=30),
                            midnight + dt.timedelta(hours=23, minutes=30), "1m", {"patient": str(pid)})
        with grafana_db.reader.connect() as c:
            before = _rows_read(c)
            rows = c.exec_driver_sql(sql).all()
            read = _rows_read(c) - before
        day_x = int(midnight.replace(tzinfo=dt.UTC).timestamp())
        assert [(int(r[0]), r[1], int(r[2])) for r in rows] == [(day_x, "fitbit", 3)]
        assert read < 100, f"a one-day range read {read} rows of a {len(history) + 4}-row history"
    finally:
        with writer.begin() as c:
            c.execute(sa.text("DELETE FROM step_intervals WHERE patient_id = :p"), {"p": pid})
            c.execute(sa.text("DELETE FROM patients WHERE id = :p"), {"p": pid})
        writer.dispose()
