"""Settings → Database: the MySQL wizard on the real MariaDB (set-up, a populated SQLite database
moved and checked, the switch and the restart), a wrong admin password, a target that already holds
data, "Test connection" and switching back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt

from services.accounts.actor import HOST
from services.reach.mysql_setup import default_owner
from tests.conftest import MYSQL_ADMIN_URL, REQUIRE_MARIADB, mariadb_reason
from tests.gui.conftest import wait_idle
from tests.gui.shells import home_shell  # noqa: F401 - fixture

HOSTS = ("localhost", "127.0.0.1", "%")


@dataclass
class Names:
    database: str
    writer: str
    reader: str


@pytest.fixture
def names(request: pytest.FixtureRequest) -> Iterator[Names]:
    """Unique names on the test MariaDB, dropped afterwards (counted in the MariaDB summary)."""
    request.node.add_marker(pytest.mark.mariadb)
    reason = mariadb_reason()
    if reason:
        if REQUIRE_MARIADB:
            pytest.fail("CI must run the MariaDB tests: " + reason)
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:8]
    n = Names(f"wsg_{tag}", f"wsgw{tag}", f"wsgr{tag}")
    yield n
    engine = sa.create_engine(MYSQL_ADMIN_URL, poolclass=sa.NullPool)
    with engine.connect() as c:
        for user in (n.writer, n.reader, default_owner(n.writer)):
            for host in HOSTS:
                c.execute(sa.text("DROP USER IF EXISTS :u@:h"), {"u": user, "h": host})
        c.execute(sa.text(f"DROP DATABASE IF EXISTS `{n.database}`"))
    engine.dispose()


def config_file() -> dict[str, object]:
    from services import config

    path = config.paths().config_file
    return json.loads(path.read_text()) if path.exists() else {}


def populated_app():  # type: ignore[no-untyped-def]
    from services.app import WearSync

    app = WearSync.open()
    for code in ("P001", "P002", "P003_x-y.z"):
        app.patients.add(code, ["fitbit", "withings"], HOST)
    app.settings.set("lookback_days", 5)
    return app


def open_wizard(qtbot, shell):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    box = page.database
    assert box.wizard_button.isEnabled()
    qtbot.mouseClick(box.wizard_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.wizard is not None and box.wizard.isVisible(), timeout=5000)
    return box.wizard


def fill_names(wizard, names: Names) -> None:  # type: ignore[no-untyped-def]
    wizard.names.database.setText(names.database)
    wizard.names.writer.setText(names.writer)
    wizard.names.reader.setText(names.reader)


def test_wizard_moves_a_populated_database_switches_and_restarts(qtbot, home_shell, names) -> None:  # noqa: F811
    shell = home_shell(populated_app())
    wizard = open_wizard(qtbot, shell)

    # step 1: the admin login is tested before going on
    wizard.login.password.setText("")  # the test server's root has no password
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.stack.currentIndex() == 1, timeout=10_000)
    assert "Connected to" in wizard.login.result.text()

    # step 2: moving the data is on by default, because the built-in database holds patients
    assert wizard.names.move_data.isChecked()
    assert "3 patients" in wizard.names.move_data.text()
    fill_names(wizard, names)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)

    # step 3: set-up, checked copy, switch
    qtbot.waitUntil(lambda: wizard.switched or (wizard.run_step.banner.property("banner") == "error"
                    and wizard.run_step.banner.isVisible()), timeout=60_000)
    assert wizard.switched, wizard.run_step.banner.text.text()
    table = wizard.run_step.table
    rows = {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text(), table.item(r, 3).text())
            for r in range(table.rowCount())}
    assert rows["Patients"] == ("3", "3", "✓ matches")
    assert rows["Settings"][2] == "✓ matches"
    assert all(v[0] == v[1] and v[2] == "✓ matches" for v in rows.values())
    assert wizard.run_step.bar.value() == 100
    assert "restarts" in wizard.run_step.banner.text.text()
    assert wizard.restart_button.isVisible() and not wizard.cancel_button.isVisible()

    # WearSync opens the new database from now on (password from the keyring, not the file)
    configured = str(config_file()["database_url"])
    url = sa.engine.make_url(configured)
    assert (url.database, url.username, url.password) == (names.database, names.writer, None)

    # a clean restart: quit (background stopped, database closed by the shell), then start again
    qtbot.mouseClick(wizard.restart_button, Qt.MouseButton.LeftButton)
    assert shell.restart_requested and shell.quits == [True]

    from services.app import WearSync

    moved = WearSync.open()
    try:
        assert moved.db.dialect == "mysql"
        assert [p.code for p in moved.patients.list_patients()] == ["P001", "P002", "P003_x-y.z"]
        assert moved.settings.get("lookback_days") == 5
    finally:
        moved.close()


def test_after_the_switch_test_dashboards_runs_every_panel_as_the_reader(qtbot, home_shell, names) -> None:  # noqa: F811
    from services.reach.database_switch import set_up, switch_app_to_mysql
    from services.reach.mysql_setup import AdminLogin

    app = populated_app()
    result = set_up(app, HOST, AdminLogin(), database=names.database, writer_user=names.writer,
                    reader_user=names.reader)
    switch_app_to_mysql(app, result, HOST)
    shell = home_shell(app)
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    qtbot.mouseClick(page.grafana.check_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    checks = page.grafana.checks
    assert checks.isVisible() and checks.rowCount() > 5
    assert all(checks.item(r, 2).text().startswith("✓") for r in range(checks.rowCount()))
    assert "All" in page.grafana.result.text()


def test_wrong_admin_password_says_so_and_changes_nothing(qtbot, home_shell, names) -> None:  # noqa: F811
    shell = home_shell(populated_app())
    wizard = open_wizard(qtbot, shell)
    wizard.login.password.setText("certainly-not-the-password")
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "refused" in wizard.login.result.text(), timeout=10_000)
    assert wizard.login.result.text() == (
        "MySQL at 127.0.0.1:3306 refused the user name or password for 'root'. Check both and try again.")
    assert wizard.stack.currentIndex() == 0
    assert "database_url" not in config_file()
    assert shell.app.secrets.get("SECRET_USER") is None
    assert shell.app.db.dialect == "sqlite"


def test_target_with_data_asks_before_replacing_and_no_keeps_everything(qtbot, home_shell, names) -> None:  # noqa: F811
    from services.reach.database_switch import set_up
    from services.reach.mysql_setup import AdminLogin

    app = populated_app()
    result = set_up(app, HOST, AdminLogin(), database=names.database, writer_user=names.writer,
                    reader_user=names.reader)
    target = sa.create_engine(result.database_url, poolclass=sa.NullPool)
    with target.begin() as c:
        c.execute(sa.text("INSERT INTO patients (code, note, created_at) VALUES ('OTHER-1', '', NOW())"))
    shell = home_shell(app)
    shell.dialogs.confirm_answer = False  # "Replace its data?" -> Cancel
    wizard = open_wizard(qtbot, shell)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.stack.currentIndex() == 1, timeout=10_000)
    fill_names(wizard, names)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.run_step.banner.isVisible() and not wizard.running, timeout=60_000)

    assert shell.dialogs.confirms and shell.dialogs.confirms[0][0] == "Replace the data in MySQL?"
    assert "already holds data" in shell.dialogs.confirms[0][1]
    assert not wizard.switched
    assert "Nothing was copied" in wizard.run_step.banner.text.text()
    assert "database_url" not in config_file()
    with target.connect() as c:
        assert [r[0] for r in c.execute(sa.text("SELECT code FROM patients"))] == ["OTHER-1"]
    target.dispose()
    wizard.reject()  # Cancel closes without a restart
    assert not shell.restart_requested


def test_test_connection_and_switch_back_to_the_builtin_database(qtbot, home_shell, names) -> None:  # noqa: F811
    from services.reach.database_switch import set_up, switch_app_to_mysql
    from services.reach.mysql_setup import AdminLogin

    app = populated_app()
    result = set_up(app, HOST, AdminLogin(), database=names.database, writer_user=names.writer,
                    reader_user=names.reader)
    switch_app_to_mysql(app, result, HOST)
    app.close()
    from services.app import WearSync

    shell = home_shell(WearSync.open())  # restarted on MySQL
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    box = page.database
    assert box.kind.text() == "MySQL / MariaDB" and names.database in box.url.text()
    qtbot.mouseClick(box.test_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert box.test_result.text().startswith("✓ Connected to")

    assert box.sqlite_button.isVisible()
    shell.dialogs.confirm_answer = False
    qtbot.mouseClick(box.sqlite_button, Qt.MouseButton.LeftButton)
    assert "NOT copied back" in shell.dialogs.confirms[-1][1]
    assert config_file().get("database_url")  # cancelled: nothing changed
    shell.dialogs.confirm_answer = True
    qtbot.mouseClick(box.sqlite_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert config_file().get("database_url") is None
    assert shell.restart_requested


def test_wizard_is_for_admins_only(qtbot, make_shell) -> None:
    from services.accounts.actor import Actor

    shell = make_shell(actor=Actor("cora", "coordinator", "gui"))
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    assert not page.database.wizard_button.isEnabled()
    assert "may not change the database" in page.database.wizard_button.toolTip()
