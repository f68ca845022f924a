"""The two Grafana dashboards WearSync provisions: the clinic overview and the per-patient view.

Built as plain dicts (the JSON model Grafana stores, schemaVersion 39) so one definition serves
the provisioning files and the HTTP API. Every query reads through the read-only MySQL data
source, uses Grafana's MySQL macros, and leaves out soft-deleted patients
(`deleted_at IS NULL`). The reader sees only the measurement, device and coverage tables and three
views (db/privileges.py): `patient_ids` (row id and patient ID), `connection_status` (no tokens) and
`dashboard_settings`. Patients are chosen by their numeric row id (the variable's value; its text is
the patient ID), so no patient ID text ever reaches a query. Instants are naive UTC DATETIMEs; the
data source's session time zone is UTC, so `$__timeFilter` and `UNIX_TIMESTAMP` agree with them.
Patient-day columns (`local_date`) are shown at midnight UTC of that day. Ages such as "days since
the last device sync" are measured to the end of the dashboard's time range (`$__timeTo()`,
Grafana's "now"), never to the database server's clock (`NOW()`/`UTC_TIMESTAMP()`), which need not
agree with the app's.
"""

from __future__ import annotations

from typing import Any

DATASOURCE_UID = "wearsync-mysql"
DATASOURCE = {"type": "mysql", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39
CLINIC_UID = "wearsync-clinic"
CLINIC_SLUG = "wearsync-clinic-overview"
PATIENT_UID = "wearsync-patient"
PATIENT_SLUG = "wearsync-patient"
FOLDER_UID = "wearsync"
FOLDER_TITLE = "WearSync"

# One patient by row id, never a soft-deleted one. The value is a number from PATIENT_VARIABLE_SQL;
# `:sqlstring` still quotes it, so even a hand-made URL value stays one string compared with a number.
_ONE_PATIENT = ("JOIN patient_ids p ON p.id = {a}.patient_id AND p.deleted_at IS NULL "
                "AND p.id = ${{patient:sqlstring}}")
_DAYS_IN_RANGE = "{a}.local_date BETWEEN DATE($__timeFrom()) AND DATE($__timeTo())"

STAGE_COLOURS = {"deep": "dark-blue", "light": "light-blue", "rem": "purple", "wake": "orange",
                 "asleep": "blue", "restless": "yellow"}


def _patient(alias: str) -> str:
    return _ONE_PATIENT.format(a=alias)


def _days(alias: str) -> str:
    return _DAYS_IN_RANGE.format(a=alias)


# The UTC instants that can fall on the patient-local days of the range: local offsets run from
# UTC-12 to UTC+14, so local day D lies within [D - 14 h, D + 36 h) UTC. Bounding the time column by
# them turns a per-day panel over a row-per-minute table into a range scan of the (patient, time)
# primary key; `local_date` alone is not indexed and would read the patient's whole history.
_UTC_AROUND_DAYS = ("{col} >= DATE($__timeFrom()) - INTERVAL 14 HOUR "
                    "AND {col} < DATE($__timeTo()) + INTERVAL 36 HOUR")


def _utc_around_days(col: str) -> str:
    return _UTC_AROUND_DAYS.format(col=col)


def target(sql: str, fmt: str, ref: str = "A") -> dict[str, Any]:
    return {"refId": ref, "datasource": DATASOURCE, "rawSql": " ".join(sql.split()), "format": fmt,
            "rawQuery": True, "editorMode": "code"}


class _Layout:
    """Places panels left to right, wrapping at Grafana's 24 columns."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1

    def panel(self, kind: str, title: str, w: int, h: int, targets: list[dict[str, Any]], *,
              description: str = "", unit: str | None = None, options: dict[str, Any] | None = None,
              defaults: dict[str, Any] | None = None, overrides: list[dict[str, Any]] | None = None,
              interval: str | None = None) -> dict[str, Any]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        field_defaults: dict[str, Any] = dict(defaults or {})
        if unit:
            field_defaults["unit"] = unit
        panel: dict[str, Any] = {
            "id": self.next_id, "type": kind, "title": title, "description": description,
            "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h}, "datasource": DATASOURCE,
            "targets": targets, "fieldConfig": {"defaults": field_defaults, "overrides": overrides or []},
            "options": options or {},
        }
        if interval:
            panel["interval"] = interval
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel


def _bars(stacked: bool = False) -> dict[str, Any]:
    return {"custom": {"drawStyle": "bars", "fillOpacity": 80, "barAlignment": 0, "lineWidth": 1,
                       "stacking": {"mode": "normal" if stacked else "none", "group": "A"}}}


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]], *, variables: list[dict[str, Any]] | None = None,
               time_from: str = "now-7d", links: list[dict[str, Any]] | None = None,
               description: str = "") -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["wearsync"], "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"}, "refresh": "", "fiscalYearStartMonth": 0, "liveNow": False,
        "templating": {"list": variables or []}, "annotations": {"list": []}, "links": links or [],
        "panels": panels,
    }


# value = row id, text = patient ID (Grafana's __value/__text columns)
PATIENT_VARIABLE_SQL = "SELECT id AS __value, code AS __text FROM patient_ids WHERE deleted_at IS NULL ORDER BY code"


def patient_dashboard() -> dict[str, Any]:
    lay = _Layout()
    panels = [
        lay.panel("timeseries", "Steps per hour", 12, 8, [target(f"""
            SELECT $__timeGroupAlias(s.start_utc, 1h), s.vendor AS metric, SUM(s.steps) AS steps
            FROM step_intervals s {_patient('s')}
            WHERE $__timeFilter(s.start_utc)
            GROUP BY 1, 2 ORDER BY 1""", "time_series")], unit="short", defaults=_bars()),
        lay.panel("timeseries", "Steps per day", 12, 8, [target(f"""
            SELECT UNIX_TIMESTAMP(s.local_date) AS time, s.vendor AS metric, SUM(s.steps) AS steps
            FROM step_intervals s {_patient('s')}
            WHERE {_utc_around_days('s.start_utc')} AND {_days('s')}
            GROUP BY s.local_date, s.vendor ORDER BY 1""", "time_series")],
            description="The patient's own days.", unit="short", defaults=_bars()),
        lay.panel("timeseries", "Heart rate", 24, 9, [target(f"""
            SELECT $__timeGroupAlias(h.ts_utc, $__interval), h.vendor AS metric, AVG(h.bpm) AS bpm
            FROM heart_rate_samples h {_patient('h')}
            WHERE $__timeFilter(h.ts_utc) AND h.kind <> 'exercise'
            GROUP BY 1, 2 ORDER BY 1""", "time_series")],
            description="Average of the samples in each interval.", unit="bpm", interval="1m"),
        lay.panel("timeseries", "Resting heart rate", 12, 8, [target(f"""
            SELECT UNIX_TIMESTAMP(r.local_date) AS time, r.vendor AS metric, r.bpm AS bpm
            FROM resting_heart_rate r {_patient('r')}
            WHERE {_days('r')}
            ORDER BY 1""", "time_series")], unit="bpm",
            defaults={"custom": {"drawStyle": "line", "showPoints": "always"}}),
        lay.panel("timeseries", "Sleep score", 12, 8, [target(f"""
            SELECT UNIX_TIMESTAMP(ss.local_date) AS time, ss.vendor AS metric, MAX(ss.score) AS score
            FROM sleep_sessions ss {_patient('ss')}
            WHERE {_days('ss')} AND ss.is_main = 1 AND ss.score IS NOT NULL
            GROUP BY ss.local_date, ss.vendor ORDER BY 1""", "time_series")],
            defaults={"min": 0, "max": 100, "custom": {"drawStyle": "line", "showPoints": "always"}}),
        lay.panel("state-timeline", "Sleep stages", 24, 7,
                  [_stage_target("fitbit", "Fitbit", "A"), _stage_target("withings", "Withings", "B")],
                  description="Blank between nights.",
                  defaults={"mappings": [{"type": "value", "options": {
                      k: {"text": k, "color": c, "index": i} for i, (k, c) in enumerate(STAGE_COLOURS.items())}}],
                      "color": {"mode": "thresholds"}},
                  options={"mergeValues": True, "showValue": "never", "rowHeight": 0.8}),
        lay.panel("timeseries", "Sleep per night", 12, 8, [target(f"""
            SELECT UNIX_TIMESTAMP(ss.local_date) AS time, ss.vendor AS metric, SUM(ss.deep_minutes) AS deep,
                   SUM(ss.light_minutes) AS light, SUM(ss.rem_minutes) AS rem, SUM(ss.minutes_awake) AS awake
            FROM sleep_sessions ss {_patient('ss')}
            WHERE {_days('ss')}
            GROUP BY ss.local_date, ss.vendor ORDER BY 1""", "time_series")],
            description="Minutes per stage; a night belongs to the day it ends.", unit="m",
            defaults=_bars(stacked=True)),
        lay.panel("table", "Nights", 12, 8, [target(f"""
            SELECT ss.local_date AS night, ss.vendor AS device, ss.start_utc AS start, ss.end_utc AS end,
                   ss.minutes_asleep AS asleep_min, ss.minutes_awake AS awake_min, ss.deep_minutes AS deep_min,
                   ss.light_minutes AS light_min, ss.rem_minutes AS rem_min, ss.wakeup_count AS wake_ups,
                   ROUND(ss.efficiency * 100) AS efficiency_pct, ss.score, ss.hr_average AS avg_hr
            FROM sleep_sessions ss {_patient('ss')}
            WHERE {_days('ss')}
            ORDER BY ss.start_utc DESC""", "table")]),
        lay.panel("timeseries", "Breathing rate (Withings)", 12, 8, [target(f"""
            SELECT $__timeGroupAlias(r.ts_utc, $__interval), r.vendor AS metric,
                   AVG(r.breaths_per_minute) AS breaths_per_minute
            FROM respiratory_samples r {_patient('r')}
            WHERE $__timeFilter(r.ts_utc)
            GROUP BY 1, 2 ORDER BY 1""", "time_series")], unit="short", interval="1m"),
        lay.panel("timeseries", "Snoring per night (Withings)", 12, 8, [target(f"""
            SELECT UNIX_TIMESTAMP(ss.local_date) AS time, ROUND(SUM(ss.snoring_s) / 60, 1) AS snoring_minutes,
                   SUM(ss.snoring_episodes) AS episodes, MAX(ss.apnea_hypopnea_index) AS ahi
            FROM sleep_sessions ss {_patient('ss')}
            WHERE {_days('ss')} AND ss.vendor = 'withings' AND ss.snoring_s IS NOT NULL
            GROUP BY ss.local_date ORDER BY 1""", "time_series")], defaults=_bars()),
        lay.panel("timeseries", "Snoring signal (Withings)", 12, 8, [target(f"""
            SELECT $__timeGroupAlias(n.ts_utc, $__interval), MAX(n.value) AS snoring
            FROM snoring_samples n {_patient('n')}
            WHERE $__timeFilter(n.ts_utc)
            GROUP BY 1 ORDER BY 1""", "time_series")], interval="1m"),
        lay.panel("table", "Exercises (Polar)", 12, 8, [target(f"""
            SELECT e.start_utc AS start, e.end_utc AS end, e.vendor AS device, e.sport,
                   ROUND(TIMESTAMPDIFF(SECOND, e.start_utc, e.end_utc) / 60) AS minutes, e.avg_hr, e.max_hr,
                   e.calories, ROUND(e.distance_m / 1000, 2) AS km
            FROM exercises e {_patient('e')}
            WHERE $__timeFilter(e.start_utc)
            ORDER BY e.start_utc DESC""", "table")]),
        lay.panel("timeseries", "Heart rate during exercise (Polar)", 12, 8, [target(f"""
            SELECT $__timeGroupAlias(h.ts_utc, $__interval), h.vendor AS metric, AVG(h.bpm) AS bpm
            FROM heart_rate_samples h {_patient('h')}
            WHERE $__timeFilter(h.ts_utc) AND h.kind = 'exercise'
            GROUP BY 1, 2 ORDER BY 1""", "time_series")], unit="bpm", interval="5s"),
    ]
    variable = {
        "name": "patient", "label": "Patient", "type": "query", "datasource": DATASOURCE,
        "query": PATIENT_VARIABLE_SQL, "definition": PATIENT_VARIABLE_SQL, "refresh": 1, "sort": 1,
        "multi": False, "includeAll": False, "hide": 0, "current": {}, "options": [], "regex": "",
    }
    return _dashboard(PATIENT_UID, "WearSync – patient", panels, variables=[variable],
                      links=[{"title": "Clinic overview", "type": "link", "icon": "dashboard",
                              "url": f"/d/{CLINIC_UID}/{CLINIC_SLUG}", "keepTime": True}],
                      description="One patient's data from every connected device.")


def _stage_target(vendor: str, label: str, ref: str) -> dict[str, Any]:
    # A stage lasts until the next row; the session's end gets an empty row so the last stage of a
    # night does not stretch to the next evening.
    return target(f"""
        SELECT t.time, t.stage AS `{label}` FROM (
            SELECT st.start_utc AS time, st.stage AS stage
            FROM sleep_stages st {_patient('st')}
            WHERE st.vendor = '{vendor}' AND $__timeFilter(st.start_utc)
            UNION ALL
            SELECT ss.end_utc, NULL
            FROM sleep_sessions ss {_patient('ss')}
            WHERE ss.vendor = '{vendor}' AND $__timeFilter(ss.end_utc)
        ) t ORDER BY t.time""", "table", ref)


_LATEST_SYNC = """
    FROM connection_status c
    JOIN patient_ids p ON p.id = c.patient_id AND p.deleted_at IS NULL
    LEFT JOIN devices d ON d.patient_id = c.patient_id AND d.vendor = c.vendor AND d.retired_at IS NULL"""
_ALERT_DAYS = ("(SELECT CAST(COALESCE(MAX(s.value), '3') AS UNSIGNED) FROM dashboard_settings s "
               "WHERE s.`key` = 'alert_after_days')")


def clinic_dashboard() -> dict[str, Any]:
    lay = _Layout()
    # the link carries the row id (a hidden column), never the patient ID text
    patient_link = [{"matcher": {"id": "byName", "options": "patient"}, "properties": [{"id": "links", "value": [{
        "title": "Open the patient dashboard", "targetBlank": False,
        "url": f"/d/{PATIENT_UID}/{PATIENT_SLUG}?var-patient=${{__data.fields.patient_id}}&${{__url_time_range}}",
    }]}]}, {"matcher": {"id": "byName", "options": "patient_id"},
            "properties": [{"id": "custom.hidden", "value": True}]}]
    stat = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value",
            "graphMode": "none", "textMode": "auto"}
    panels = [
        lay.panel("stat", "Patients", 6, 4, [target(
            "SELECT COUNT(*) AS patients FROM patient_ids WHERE deleted_at IS NULL", "table")], options=stat),
        lay.panel("stat", "Devices not synced recently", 6, 4, [target(f"""
            SELECT COUNT(*) AS devices FROM (
                SELECT c.id {_LATEST_SYNC}
                WHERE c.status <> 'withdrawn'
                GROUP BY c.id
                HAVING MAX(d.last_sync_utc) IS NULL
                    OR TIMESTAMPDIFF(DAY, MAX(d.last_sync_utc), $__timeTo()) >= {_ALERT_DAYS}
            ) late""", "table")],
            description="Device types whose device has not synced for the alert threshold (Settings).",
            options=stat, defaults={"thresholds": {"mode": "absolute", "steps": [
                {"color": "green", "value": None}, {"color": "red", "value": 1}]}}),
        lay.panel("stat", "Connections needing re-consent", 6, 4, [target("""
            SELECT COUNT(*) AS connections FROM connection_status c
            JOIN patient_ids p ON p.id = c.patient_id AND p.deleted_at IS NULL
            WHERE c.status = 'needs_reconsent'""", "table")], options=stat,
            defaults={"thresholds": {"mode": "absolute", "steps": [
                {"color": "green", "value": None}, {"color": "orange", "value": 1}]}}),
        lay.panel("stat", "Connections with errors", 6, 4, [target("""
            SELECT COUNT(*) AS connections FROM connection_status c
            JOIN patient_ids p ON p.id = c.patient_id AND p.deleted_at IS NULL
            WHERE c.status = 'error'""", "table")], options=stat,
            defaults={"thresholds": {"mode": "absolute", "steps": [
                {"color": "green", "value": None}, {"color": "red", "value": 1}]}}),
        lay.panel("table", "Last device sync per patient", 24, 10, [target(f"""
            SELECT p.code AS patient, p.id AS patient_id, c.vendor AS device_type, c.status AS connection,
                   MAX(d.last_sync_utc) AS last_device_sync,
                   TIMESTAMPDIFF(DAY, MAX(d.last_sync_utc), $__timeTo()) AS days_since_sync,
                   c.last_sync_at AS last_download
            {_LATEST_SYNC}
            GROUP BY p.code, p.id, c.vendor, c.status, c.last_sync_at
            ORDER BY MAX(d.last_sync_utc) IS NULL DESC, MAX(d.last_sync_utc), patient""", "table")],
            description="The device in use (retired devices are left out). Click a patient to open their dashboard.",
            overrides=patient_link),
        lay.panel("table", "Connections needing attention", 12, 8, [target("""
            SELECT p.code AS patient, p.id AS patient_id, c.vendor AS device_type, c.status, c.last_error,
                   c.updated_at AS since
            FROM connection_status c JOIN patient_ids p ON p.id = c.patient_id AND p.deleted_at IS NULL
            WHERE c.status IN ('needs_reconsent', 'error', 'not_connected')
            ORDER BY c.status, patient""", "table")], overrides=patient_link),
        lay.panel("table", "Coverage in the selected period", 12, 8, [target(f"""
            SELECT p.code AS patient, p.id AS patient_id, c.vendor AS device_type,
                   SUM(cv.status = 'complete') AS complete, SUM(cv.status = 'partial') AS partial,
                   SUM(cv.status = 'missing') AS missing, SUM(cv.status = 'not_worn') AS not_worn,
                   SUM(cv.status = 'failed') AS failed,
                   ROUND(100 * SUM(cv.status = 'complete') / COUNT(*), 1) AS coverage_pct
            FROM coverage cv
            JOIN connection_status c ON c.id = cv.connection_id
            JOIN patient_ids p ON p.id = c.patient_id AND p.deleted_at IS NULL
            WHERE {_days('cv')}
            GROUP BY p.code, p.id, c.vendor ORDER BY coverage_pct, patient""", "table")],
            description="Days × data types per status.", overrides=patient_link),
        lay.panel("timeseries", "Coverage per day", 12, 8, [target(f"""
            SELECT UNIX_TIMESTAMP(cv.local_date) AS time, cv.status AS metric, COUNT(*) AS day_types
            FROM coverage cv
            JOIN connection_status c ON c.id = cv.connection_id
            JOIN patient_ids p ON p.id = c.patient_id AND p.deleted_at IS NULL
            WHERE {_days('cv')}
            GROUP BY cv.local_date, cv.status ORDER BY 1""", "time_series")], defaults=_bars(stacked=True)),
        lay.panel("table", "Alerts sent", 12, 8, [target("""
            SELECT a.sent_at, a.kind, a.subject_key AS subject
            FROM alerts_sent a
            LEFT JOIN patient_ids p ON p.code = SUBSTRING_INDEX(a.subject_key, '/', 1)
            WHERE $__timeFilter(a.sent_at) AND p.deleted_at IS NULL
            ORDER BY a.sent_at DESC""", "table")],
            description="Subjects are 'patient/device type'; alerts about deleted patients are hidden."),
        lay.panel("table", "Recent downloads", 24, 7, [target("""
            SELECT r.started_at, r.finished_at, r.`trigger`, r.status, r.connections_ok AS ok,
                   r.connections_failed AS failed, r.rows_written
            FROM sync_runs r
            WHERE $__timeFilter(r.started_at)
            ORDER BY r.started_at DESC LIMIT 50""", "table")]),
    ]
    return _dashboard(CLINIC_UID, "WearSync – clinic overview", panels, time_from="now-14d",
                      links=[{"title": "Patient dashboard", "type": "link", "icon": "dashboard",
                              "url": f"/d/{PATIENT_UID}/{PATIENT_SLUG}", "keepTime": True}],
                      description="Every patient's devices, downloads, coverage and alerts.")


def dashboards() -> dict[str, dict[str, Any]]:
    """File name stem -> dashboard model."""
    return {"wearsync-clinic": clinic_dashboard(), "wearsync-patient": patient_dashboard()}
