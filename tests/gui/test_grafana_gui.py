"""Settings → Grafana against the local Grafana stand-in, and "Open in Grafana" per patient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from gui.grafana_open import OpenInGrafanaButton
from services.accounts.actor import HOST
from services.reach.grafana import open_in_grafana_url
from services.reach.tunnel import TunnelStatus
from tests.fakes.fake_grafana import FakeGrafana
from tests.gui.conftest import wait_idle

READER_URL = "mysql+pymysql://wearsync_writer@127.0.0.1:3306/wearsync"  # parsed only, never opened


@pytest.fixture
def fake_grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana().start()
    yield fake
    fake.stop()


def grafana_box(qtbot, shell):  # type: ignore[no-untyped-def]
    # Grafana reads the MySQL database: point the app's environment at one (the push never opens it)
    shell.app.environ["WEARSYNC_DATABASE_URL"] = READER_URL
    shell.app.secrets.set("GRAFANA_DB_USER", "wearsync_reader")
    shell.app.secrets.set("GRAFANA_DB_PASSWORD", "Invented-reader-pw-1")
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    return page.grafana


def test_push_to_grafana_from_the_settings_page(qtbot, make_shell, fake_grafana) -> None:
    shell = make_shell()
    box = grafana_box(qtbot, shell)
    box.url.setText(fake_grafana.url + "/")
    box.token.setText(fake_grafana.token)
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert box.result.text() == "Saved."
    assert shell.app.secrets.get("GRAFANA_URL") == fake_grafana.url
    assert box.token.text() == "" and "stored" in box.token.placeholderText()

    qtbot.mouseClick(box.push_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert box.result.text().startswith("Grafana is set up: data source “WearSync” created, 2 dashboards")
    assert fake_grafana.datasources["wearsync-mysql"]["user"] == "wearsync_reader"
    assert len(fake_grafana.dashboards) == 2
    assert all(c.authorization == f"Bearer {fake_grafana.token}" for c in fake_grafana.calls
               if c.path != "/api/health")


def test_a_rejected_token_is_explained_in_plain_words(qtbot, make_shell, fake_grafana) -> None:
    shell = make_shell()
    box = grafana_box(qtbot, shell)
    shell.app.secrets.set("GRAFANA_URL", fake_grafana.url)
    shell.app.secrets.set("GRAFANA_API_TOKEN", "glsa_not_the_right_one")
    qtbot.mouseClick(box.push_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert "did not accept the service-account token" in box.result.text()
    assert not fake_grafana.dashboards


def test_a_wrong_grafana_address_is_refused_and_not_stored(qtbot, make_shell) -> None:
    shell = make_shell()
    box = grafana_box(qtbot, shell)
    box.url.setText("localhost:3000")
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert "must start with http:// or https://" in box.result.text()
    assert shell.app.secrets.get("GRAFANA_URL") is None


def test_write_provisioning_files_to_a_chosen_folder(qtbot, make_shell, tmp_path) -> None:
    shell = make_shell()
    box = grafana_box(qtbot, shell)
    box.pick_folder = lambda: str(tmp_path / "grafana-out")
    qtbot.mouseClick(box.files_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert (tmp_path / "grafana-out" / "provisioning" / "datasources" / "wearsync.yaml").exists()
    assert "Wrote" in box.result.text()


def test_grafana_needs_mysql_first(qtbot, make_shell) -> None:
    shell = make_shell()
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    qtbot.mouseClick(page.grafana.push_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert "Set up MySQL first in Settings → Database" in page.grafana.result.text()


@pytest.fixture
def opened(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    urls: list[str] = []
    monkeypatch.setattr(OpenInGrafanaButton, "opener", staticmethod(urls.append))
    return urls


def show_patient(qtbot, shell, code: str):  # type: ignore[no-untyped-def]
    info = shell.app.patients.add(code, ["fitbit"], HOST)
    page = shell.window.show_page("patients")
    page.shown()  # the list (and its detail panel) appear once it holds a patient
    wait_idle(qtbot, shell)
    from gui.pages.patients.detail import PatientDetail

    panel = page.findChild(PatientDetail)
    panel.show_patient(info)
    return panel


def test_open_in_grafana_uses_grafana_url_then_the_tunnel(qtbot, make_shell, opened) -> None:
    shell = make_shell()
    panel = show_patient(qtbot, shell, "P-007")
    button = panel.grafana_button
    assert button.isVisible()

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # nothing configured: the local Grafana
    wait_idle(qtbot, shell)
    row_id = shell.app.patients.row_id("P-007")
    assert opened[-1] == open_in_grafana_url("http://localhost:3000", row_id)
    assert opened[-1].endswith(f"/d/wearsync-patient/wearsync-patient?var-patient={row_id}")  # the number

    shell.app.secrets.set("GRAFANA_URL", "https://grafana.clinic.example")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert opened[-1].startswith("https://grafana.clinic.example/d/wearsync-patient/")

    # the tunnel is up: through its public Grafana address
    shell.ctx.tunnel._on_status(TunnelStatus("up", "https://cb-1.ngrok-free.app", "https://gf-1.ngrok-free.app"))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert opened[-1].startswith("https://gf-1.ngrok-free.app/d/wearsync-patient/")


def test_open_in_grafana_hidden_without_a_patient(qtbot, make_shell) -> None:
    shell = make_shell()
    panel = show_patient(qtbot, shell, "P1")
    panel.show_patient(None)
    assert not panel.grafana_button.isVisible()
