"""`main.py mysql setup --move-data`, `mysql test`, `mysql use-sqlite` as a user would run them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.mysql_setup.conftest import Names


def test_setup_moves_the_sqlite_data_switches_and_tests(run_cli, tmp_path: Path, admin_url: str,  # type: ignore[no-untyped-def]
                                                        names: Names) -> None:
    env = {"WEARSYNC_HOME": str(tmp_path / "home")}
    assert run_cli("patients", "add", "P-CLI", "--vendor", "fitbit", env=env).returncode == 0

    done = run_cli("mysql", "setup", "--admin-url", admin_url, "--database", names.database, "--writer",
                   names.writer, "--reader", names.reader, "--move-data", env=env)
    assert done.returncode == 0, done.stderr
    assert "Moved" in done.stdout and "every table's row count and checksum match" in done.stdout
    assert (tmp_path / "home" / "wearsync.json").exists()

    listed = run_cli("patients", "list", "--csv", env=env)  # now reads MySQL
    assert listed.returncode == 0 and "P-CLI" in listed.stdout
    tested = run_cli("mysql", "test", env=env)
    assert tested.returncode == 0 and f"as {names.writer}, database {names.database}" in tested.stdout
    checked = run_cli("grafana", "check", env=env)  # the reader's stored credentials, every panel
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "dashboard queries run as the read-only account" in checked.stdout

    wrong = run_cli("mysql", "setup", "--admin-url", admin_url, "--database", names.database, env={
        **env, "WEARSYNC_MYSQL_ADMIN_PASSWORD": "definitely-wrong"})
    assert wrong.returncode == 1 and "refused the user name or password" in wrong.stderr

    back = run_cli("mysql", "use-sqlite", env=env)
    assert back.returncode == 0
    engine = sa.create_engine(admin_url.rstrip("/") + "/" + names.database, poolclass=sa.NullPool)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT action FROM audit_log WHERE action = 'database.switch'")).scalar()
    engine.dispose()
