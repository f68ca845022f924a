"""The dashboard JSON is valid for current Grafana: schema version, ids, layout, data source refs,
templating, and queries that use the macros and never forget deleted patients."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.reach.grafana_dashboards import DATASOURCE, PATIENT_UID, SCHEMA_VERSION, dashboards

PANEL_TYPES = {"timeseries", "table", "stat", "state-timeline", "barchart", "text"}


@pytest.fixture(params=sorted(dashboards()))
def dash(request: pytest.FixtureRequest) -> dict[str, Any]:
    model = dashboards()[request.param]
    return json.loads(json.dumps(model))  # what a file or the API carries


def test_top_level_fields(dash: dict[str, Any]) -> None:
    assert dash["schemaVersion"] >= 39 and dash["schemaVersion"] == SCHEMA_VERSION
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dash["uid"])
    assert dash["title"] and "id" not in dash  # Grafana assigns ids
    assert dash["time"]["to"] == "now" and dash["time"]["from"].startswith("now-")
    assert isinstance(dash["templating"]["list"], list) and isinstance(dash["annotations"]["list"], list)


def test_panels_have_unique_ids_and_a_layout_that_fits(dash: dict[str, Any]) -> None:
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells: set[tuple[int, int]] = set()
    for p in dash["panels"]:
        assert p["type"] in PANEL_TYPES
        g = p["gridPos"]
        assert set(g) == {"x", "y", "w", "h"} and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['title']} overlaps another"
                cells.add((x, y))


def test_every_query_uses_the_wearsync_datasource_by_uid(dash: dict[str, Any]) -> None:
    for p in dash["panels"]:
        assert p["datasource"] == DATASOURCE == {"type": "mysql", "uid": "wearsync-mysql"}
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["datasource"] == DATASOURCE
            assert t["format"] in ("table", "time_series") and t["rawQuery"] is True and t["rawSql"].strip()
    for var in dash["templating"]["list"]:
        assert var["datasource"] == DATASOURCE


def test_queries_exclude_deleted_patients_and_use_time_macros(dash: dict[str, Any]) -> None:
    for p in dash["panels"]:
        for t in p["targets"]:
            sql = t["rawSql"]
            if "patients" in sql or "patient_id" in sql:
                assert "p.deleted_at IS NULL" in sql or "deleted_at IS NULL" in sql, p["title"]
            if t["format"] == "time_series":
                assert "$__time" in sql or "$__timeFrom()" in sql, p["title"]


def test_the_patient_dashboard_has_the_patient_variable() -> None:
    dash = dashboards()["wearsync-patient"]
    assert dash["uid"] == PATIENT_UID
    (var,) = dash["templating"]["list"]
    assert var["name"] == "patient" and var["type"] == "query" and not var["multi"] and not var["includeAll"]
    assert "deleted_at IS NULL" in var["query"]
    for p in dash["panels"]:
        assert all("${patient:sqlstring}" in t["rawSql"] for t in p["targets"]), p["title"]
    titles = {p["title"] for p in dash["panels"]}
    for needed in ("Steps per hour", "Steps per day", "Heart rate", "Resting heart rate", "Sleep stages",
                   "Sleep score", "Sleep per night", "Breathing rate (Withings)", "Snoring per night (Withings)",
                   "Exercises (Polar)", "Heart rate during exercise (Polar)"):
        assert needed in titles
