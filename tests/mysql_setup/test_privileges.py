"""Least privilege on a real MariaDB (issue 12, item 2 and 3c): what the owner, the writer and the reader
may do, that the audit trail cannot be changed by the writer (nor past its trigger by a session
variable), that the reader sees no secrets, and that the whole app still works as the writer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from services.reach.mysql_setup import AdminLogin, MySQLSetupResult, set_up_mysql
from services.secrets import SecretStore
from tests.mysql_setup.conftest import Names

DENIED = (1044, 1045, 1142, 1143, 1227, 1370, 1410)  # access denied / command denied / grant refused


@pytest.fixture
def setup(admin_url: str, names: Names) -> MySQLSetupResult:
    return set_up_mysql(AdminLogin.from_url(admin_url), database=names.database, writer_user=names.writer,
                        reader_user=names.reader, secrets=SecretStore())


@pytest.fixture
def writer(setup: MySQLSetupResult) -> Iterator[sa.Engine]:
    engine = sa.create_engine(setup.database_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def _error(engine: sa.Engine, *statements: str) -> int | None:
    """The MySQL error number of the first statement refused, or None when all ran."""
    try:
        with engine.begin() as c:
            for sql in statements:
                c.exec_driver_sql(sql)
    except DBAPIError as exc:
        return int(exc.orig.args[0])  # type: ignore[union-attr]
    return None


def _add_audit_row(engine: sa.Engine) -> None:
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO audit_log (at, actor, source, action, target, detail) "
                          "VALUES ('2026-11-01 10:00:00', 'host', 'cli', 'patient.add', 'P-1', '')")


def _audit_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.exec_driver_sql("SELECT id, action, target FROM audit_log ORDER BY id")]


@pytest.mark.mariadb
def test_the_writer_cannot_change_the_audit_trail_or_the_schema(setup: MySQLSetupResult, writer: sa.Engine,
                                                                 names: Names) -> None:
    _add_audit_row(writer)  # appending is what the app does
    before = _audit_rows(writer)
    assert len(before) == 1

    for sql in ("UPDATE audit_log SET target = 'forged'",
                "DELETE FROM audit_log",
                "TRUNCATE TABLE audit_log",
                "DROP TRIGGER audit_log_no_delete",
                "DROP TRIGGER audit_log_no_update",
                "ALTER TABLE audit_log ADD COLUMN x INT",
                "ALTER TABLE patients ADD COLUMN x INT",
                "DROP TABLE audit_log",
                "CREATE TABLE sneaky (x INT)",
                "CREATE VIEW sneaky AS SELECT 1",
                f"GRANT SELECT ON `{names.database}`.* TO '{names.reader}'@'localhost'",
                f"GRANT SELECT ON `{names.database}`.audit_log TO '{names.reader}'@'127.0.0.1'",
                "CREATE TRIGGER t BEFORE INSERT ON patients FOR EACH ROW SET NEW.note = ''"):
        assert _error(writer, sql) in DENIED, sql
    # the old way round the trigger: a session variable any session could set
    assert _error(writer, "SET @wearsync_replacing_database = 1", "DELETE FROM audit_log") in DENIED
    assert _audit_rows(writer) == before

    # the writer's everyday work on the data tables does go through
    assert _error(writer,
                  "INSERT INTO patients (code, note, created_at) VALUES ('P-1', '', '2026-11-01')",
                  "UPDATE patients SET note = 'x' WHERE code = 'P-1'",
                  "DELETE FROM patients WHERE code = 'P-1'") is None


@pytest.mark.mariadb
def test_the_trigger_stays_a_second_layer_without_a_session_variable_bypass(setup: MySQLSetupResult) -> None:
    """Even the owner (who may DELETE) is stopped by the trigger; the variable no longer opens it."""
    owner = sa.create_engine(setup.owner_url, poolclass=sa.NullPool)
    try:
        _add_audit_row(owner)
        assert _error(owner, "SET @wearsync_replacing_database = 1", "DELETE FROM audit_log") == 1644
        assert _error(owner, "UPDATE audit_log SET target = 'forged'") == 1644
        assert [r[2] for r in _audit_rows(owner)] == ["P-1"]
    finally:
        owner.dispose()


SECRET_TABLES = ("users", "registration_keys", "connections", "oauth_states", "enrolment_links", "settings",
                 "audit_log", "patients", "alert_recipients", "undo_actions", "wearsync_db_accounts")


@pytest.mark.mariadb
def test_the_reader_sees_measurements_and_views_but_no_secret(setup: MySQLSetupResult, writer: sa.Engine) -> None:
    with writer.begin() as c:
        c.exec_driver_sql("INSERT INTO patients (id, code, note, created_at) VALUES (1, 'P-1', 'private', NOW())")
        c.exec_driver_sql("INSERT INTO connections (patient_id, vendor, status, token_ciphertext, scopes_granted, "
                          "scopes_missing, created_at, updated_at) VALUES (1, 'fitbit', 'connected', 'secret-bytes', "
                          "'', '', NOW(), NOW())")
        c.exec_driver_sql("INSERT INTO settings (`key`, value) VALUES ('alert_after_days', '4'), "
                          "('grafana_tunnel_user', 'someone')")
    reader = sa.create_engine(setup.reader_url, poolclass=sa.NullPool)
    try:
        for table in SECRET_TABLES:
            assert _error(reader, f"SELECT * FROM `{table}`") in DENIED, table
        with reader.connect() as c:
            assert c.exec_driver_sql("SELECT * FROM patient_ids").keys() == ["id", "code", "deleted_at"]  # type: ignore[comparison-overlap]
            status = c.exec_driver_sql("SELECT * FROM connection_status")
            columns = list(status.keys())
            assert status.all() and not any("token" in col or "scope" in col for col in columns), columns
            assert c.exec_driver_sql("SELECT `key`, value FROM dashboard_settings").all() == [("alert_after_days", "4")]
            for table in ("heart_rate_samples", "step_intervals", "sleep_stages", "devices", "coverage"):
                c.exec_driver_sql(f"SELECT COUNT(*) FROM `{table}`")
    finally:
        reader.dispose()


@pytest.mark.mariadb
def test_the_whole_app_works_as_the_writer(setup: MySQLSetupResult, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """Sign-in (with a failed attempt counted), keys, patients (add, rename, delete, undo), connect, a
    sync and an export, each audited: with exactly the writer's grants."""
    from services.accounts.actor import HOST
    from services.app import WearSync
    from services.data.export import export_to_file
    from services.sandbox import SandboxServer
    from services.sync.devices import devices_by_patient
    from tests.connect.conftest import TODAY, _wire, connect

    monkeypatch.setenv("WEARSYNC_DATABASE_URL", setup.database_url)
    app = WearSync.open()
    try:
        with SandboxServer(seed=1, today=TODAY) as srv:
            _wire(app, srv)
            admin = app.accounts.create_first_admin("alice", "correct horse battery staple")
            with pytest.raises(Exception):  # noqa: B017 - any refusal; the count is what matters
                app.accounts.authenticate("alice", "wrong password entirely")
            assert app.accounts.authenticate("alice", "correct horse battery staple").username == "alice"
            app.keys.generate(admin, "coordinator")
            app.patients.add("P-1", ["fitbit"], admin)
            app.patients.rename("P-1", "P-2", admin)
            app.patients.add("P-3", [], admin)
            app.patients.delete("P-3", admin)
            app.patients.undo(admin)
            assert connect(app, srv, "P-2", "fitbit", "anna").ok
            cid = app.connections.connection_id("P-2", "fitbit")
            start = TODAY - dt.timedelta(days=2)
            assert app.sync.sync_connection(cid, start, TODAY - dt.timedelta(days=1)).ok
            result = export_to_file(app.db, app.audit, HOST, tmp_path / "steps.csv", "fitbit", "P-2", "steps",
                                    start, TODAY)
            assert result.rows > 0
            assert devices_by_patient(app.db)
        actions = [e.action for e in app.audit.entries()]
        for action in ("patient.add", "patient.rename", "connection.connect"):
            assert action in actions, actions
        assert app.db.engine.url.username == setup.writer_user
    finally:
        app.close()


def _before_privileges() -> str:
    """The revision 0006_privileges follows (it is re-chained after the newest one at each merge)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from db.migrate import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    down = ScriptDirectory.from_config(cfg).get_revision("0006_privileges").down_revision
    assert isinstance(down, str)
    return down


def _revision(url: str) -> str | None:
    from db.engine import Database
    from db.migrate import current_revision

    db = Database(url)
    try:
        return current_revision(db)
    finally:
        db.dispose()


@pytest.mark.mariadb
def test_a_due_upgrade_with_only_the_writer_says_what_to_run_and_changes_nothing(
        setup: MySQLSetupResult, monkeypatch: pytest.MonkeyPatch) -> None:
    from db.engine import Database
    from db.migrate import downgrade, head_revision
    from services import config
    from services.app import WearSync
    from services.schema import OwnerNeeded

    owner = Database(setup.owner_url)
    downgrade(owner, "0003_accounts")  # an upgrade is due
    owner.dispose()
    store = SecretStore()
    store.delete(config.OWNER_USER_SECRET)  # the owner's login was not kept on this computer
    store.delete(config.OWNER_PASSWORD_SECRET)
    config.write_config_file({"database_url": setup.config_url})  # the writer, password from the keyring

    with pytest.raises(OwnerNeeded) as err:
        WearSync.open()
    assert "`main.py db upgrade`" in err.value.message and "administrator password" in err.value.message
    assert _revision(setup.owner_url) == "0003_accounts"
    assert not list(config.paths().backups.glob("*")), "no backup is made for an upgrade that cannot run"

    store.set(config.OWNER_USER_SECRET, setup.owner_user)  # with the owner kept apart, start-up upgrades
    store.set(config.OWNER_PASSWORD_SECRET, setup.owner_password)
    app = WearSync.open()
    try:
        assert _revision(setup.database_url) == head_revision()
        assert app.db.engine.url.username == setup.writer_user  # daily work stays the writer's
    finally:
        app.close()


@pytest.mark.mariadb
def test_db_upgrade_restricts_an_older_installations_writer_with_the_admin_password(
        run_cli, admin_url: str, admin_engine: sa.Engine, names: Names, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An installation made before least privilege: the writer holds ALL, no owner exists."""
    from sqlalchemy.engine import make_url

    from db.engine import Database
    from db.migrate import upgrade

    password = "Older-writer-pass-123"
    with admin_engine.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE `{names.database}`"))
        for host in ("localhost", "127.0.0.1"):
            c.execute(sa.text("CREATE USER :u@:h IDENTIFIED BY :p"), {"u": names.writer, "h": host, "p": password})
            c.execute(sa.text(f"GRANT ALL PRIVILEGES ON `{names.database}`.* TO :u@:h"), {"u": names.writer, "h": host})
        c.commit()
    writer_url = make_url(admin_url).set(username=names.writer, password=password,
                                         database=names.database).render_as_string(hide_password=False)
    older = Database(writer_url)
    upgrade(older, revision="0003_accounts")
    older.dispose()
    home = tmp_path / "cli-home"
    home.mkdir()
    config_url = make_url(writer_url).set(password=None).render_as_string(hide_password=False)
    (home / "wearsync.json").write_text(json.dumps({"database_url": config_url}))
    env = {"WEARSYNC_HOME": str(home), "SECRET_USER": names.writer, "SECRET_PASSWORD": password,
           "GRAFANA_DB_USER": names.reader}

    refused = run_cli("db", "upgrade", env=env)  # no terminal, no admin password: one sentence, no change
    assert refused.returncode == 1 and refused.stderr.startswith("wearsync: ") and refused.stderr.count("\n") == 1
    assert "WEARSYNC_MYSQL_ADMIN_PASSWORD" in refused.stderr and "Traceback" not in refused.stderr
    assert _revision(writer_url) == "0003_accounts"

    done = run_cli("db", "upgrade", env={**env, "WEARSYNC_MYSQL_ADMIN_PASSWORD": make_url(admin_url).password or ""})
    assert done.returncode == 0, done.stderr
    assert "only the privileges they need" in done.stdout
    writer = sa.create_engine(writer_url, poolclass=sa.NullPool)  # the same password still works
    try:
        _add_audit_row(writer)
        assert _error(writer, "DELETE FROM audit_log") in DENIED
        assert _error(writer, "DROP TRIGGER audit_log_no_delete") in DENIED
        assert _error(writer, "ALTER TABLE patients ADD COLUMN x INT") in DENIED
    finally:
        writer.dispose()
    assert run_cli("patients", "add", "P-9", env=env).returncode == 0  # and WearSync runs as the writer


@pytest.mark.mariadb
def test_replacing_a_database_with_an_audit_trail_is_the_owners_alone(setup: MySQLSetupResult, writer: sa.Engine,
                                                                     tmp_path: Path) -> None:
    """The database move's sanctioned "replace the target" path: refused to the writer (nothing
    changed), done by the owner, and the audit trail's trigger is back afterwards."""
    from db.engine import Database
    from db.migrate import upgrade
    from services.reach.db_move import MoveFailed, move_database

    source_url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    source = Database(source_url)
    upgrade(source)
    with source.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO patients (code, note, created_at) VALUES ('P-NEW', '', '2026-11-02')")
    source.dispose()
    _add_audit_row(writer)  # the target was used: its trail holds a line
    before = _audit_rows(writer)

    with pytest.raises(MoveFailed, match="owner account"):
        move_database(source_url, setup.database_url, overwrite=True)
    assert _audit_rows(writer) == before

    report = move_database(source_url, setup.owner_url, overwrite=True)

    assert report.ok and _audit_rows(writer) == []  # replaced by the source's (empty) trail
    with writer.connect() as c:
        assert c.exec_driver_sql("SELECT code FROM patients").scalars().all() == ["P-NEW"]
    owner = sa.create_engine(setup.owner_url, poolclass=sa.NullPool)
    try:
        with owner.connect() as c:
            triggers = set(c.exec_driver_sql("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                                             "WHERE TRIGGER_SCHEMA = DATABASE()").scalars())
        assert triggers == {"audit_log_no_update", "audit_log_no_delete"}
        _add_audit_row(owner)
        assert _error(owner, "DELETE FROM audit_log") == 1644  # the second layer is back
    finally:
        owner.dispose()


@pytest.mark.mariadb
def test_the_owner_login_is_kept_apart_from_the_secrets_page(setup: MySQLSetupResult) -> None:
    from services.errors import InvalidInput

    store = SecretStore()
    assert store.get("WEARSYNC_DB_OWNER_PASSWORD") == setup.owner_password  # kept, for upgrades
    assert all("OWNER" not in state.spec.name for state in store.states())  # not listed on the page
    for name in ("WEARSYNC_DB_OWNER_PASSWORD", "WEARSYNC_DB_OWNER_USER", "WEARSYNC_TOKEN_KEY"):
        with pytest.raises(InvalidInput):
            store.reveal(name)  # and no "Reveal" can show it
    assert store.reveal("SECRET_PASSWORD") == setup.writer_password  # the writer's: it can only change data rows


@pytest.mark.mariadb
def test_an_upgrade_by_the_owner_extends_the_grants_to_tables_it_adds(setup: MySQLSetupResult,
                                                                     writer: sa.Engine, names: Names) -> None:
    """A later migration adds tables; the owner's upgrade grants the registered writer and reader
    their share of them, so daily work never needs the owner."""
    from db.engine import Database
    from db.migrate import upgrade

    owner = Database(setup.owner_url)
    try:
        with owner.engine.begin() as c:  # as if sync_runs had come with a newer version, not yet granted
            for host in setup.client_hosts:
                c.exec_driver_sql(f"REVOKE ALL PRIVILEGES ON `{names.database}`.`sync_runs` "
                                  f"FROM '{names.writer}'@'{host}'")
            for host in setup.reader_hosts:
                c.exec_driver_sql(f"REVOKE ALL PRIVILEGES ON `{names.database}`.`sync_runs` "
                                  f"FROM '{names.reader}'@'{host}'")
            c.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": _before_privileges()})
        assert _error(writer, "SELECT COUNT(*) FROM sync_runs") in DENIED
        # only 0006 again: the migrations after it (new columns, new keys) are not written to run twice
        upgrade(owner, revision="0006_privileges")
    finally:
        owner.dispose()
    assert _error(writer, "INSERT INTO sync_runs (`trigger`, started_at, status, connections_total, connections_ok, "
                          "connections_failed, rows_written, summary) VALUES ('cli', NOW(), 'ok', 0, 0, 0, 0, '')",
                  "UPDATE sync_runs SET status = 'done'", "DELETE FROM sync_runs") is None
    reader = sa.create_engine(setup.reader_url, poolclass=sa.NullPool)
    try:
        assert _error(reader, "SELECT COUNT(*) FROM sync_runs") is None
        assert _error(reader, "SELECT * FROM users") in DENIED  # and no more than its share
    finally:
        reader.dispose()
