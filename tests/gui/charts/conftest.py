"""Fixtures for the chart pages' tests: a window on the sandbox's invented physiology (helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.gui.charts.helpers import FIRST, LAST, NOW, PATIENTS, add_devices
from tests.support.chart_data import store


@pytest.fixture(scope="module")
def chart_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from db.engine import Database
    from db.migrate import upgrade

    path = Path(tmp_path_factory.mktemp("charts_gui")) / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    store(db, PATIENTS, FIRST, LAST, NOW)
    add_devices(db)
    db.dispose()
    return path


@pytest.fixture
def chart_app(chart_template: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """The test's own copy of the filled database, opened as `sqlite_app` (so `make_shell` uses it)."""
    shutil.copy(chart_template, tmp_path / "test.sqlite3")
    return request.getfixturevalue("sqlite_app")
