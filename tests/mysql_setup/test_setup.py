"""Settings → Database on a real MariaDB: users, privileges, idempotence, plain messages."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from services.errors import InvalidInput
from services.reach.mysql_setup import (
    AdminLogin,
    MySQLSetupError,
    MySQLSetupResult,
    check_connection,
    set_up_mysql,
)
from services.secrets import SecretStore
from tests.mysql_setup.conftest import Names


def _setup(admin_url: str, names: Names, **kw) -> MySQLSetupResult:  # type: ignore[no-untyped-def]
    return set_up_mysql(AdminLogin.from_url(admin_url), database=names.database, writer_user=names.writer,
                        reader_user=names.reader, secrets=SecretStore(), **kw)


def _denied(engine: sa.Engine, sql: str) -> bool:
    try:
        with engine.begin() as c:
            c.execute(sa.text(sql))
    except DBAPIError as exc:
        return exc.orig.args[0] in (1044, 1142, 1143, 1045)  # type: ignore[union-attr]
    return False


def test_setup_creates_writer_and_a_reader_that_can_only_select_our_database(
        admin_url: str, admin_engine: sa.Engine, names: Names) -> None:
    with admin_engine.connect() as c:  # another database the reader must not see
        c.execute(sa.text(f"CREATE DATABASE `{names.other_database}`"))
        c.execute(sa.text(f"CREATE TABLE `{names.other_database}`.secrets (x INT)"))
        c.execute(sa.text(f"INSERT INTO `{names.other_database}`.secrets VALUES (1)"))

    result = _setup(admin_url, names)

    assert result.created_database and result.schema_revision
    assert result.writer_password not in repr(result) and result.reader_password not in repr(result)
    store = SecretStore()
    assert store.get("SECRET_USER") == names.writer and store.get("SECRET_PASSWORD") == result.writer_password
    assert store.get("GRAFANA_DB_USER") == names.reader
    assert store.get("GRAFANA_DB_PASSWORD") == result.reader_password
    with admin_engine.connect() as c:
        charset = c.execute(sa.text("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
                                    "WHERE SCHEMA_NAME = :d"), {"d": names.database}).scalar()
    assert charset == "utf8mb4"

    writer = sa.create_engine(result.database_url, poolclass=sa.NullPool)
    with writer.begin() as c:
        c.execute(sa.text("INSERT INTO patients (code, note, created_at) VALUES ('P1', '', :t)"),
                  {"t": dt.datetime(2026, 1, 1)})
    writer.dispose()

    reader = sa.create_engine(result.reader_url, poolclass=sa.NullPool)
    with reader.connect() as c:
        assert c.execute(sa.text("SELECT code FROM patient_ids")).scalars().all() == ["P1"]
    assert _denied(reader, "INSERT INTO patients (code, note, created_at) VALUES ('P2', '', NOW())")
    assert _denied(reader, "UPDATE patients SET note = 'x'")
    assert _denied(reader, "DELETE FROM patients")
    assert _denied(reader, "DROP TABLE patients")
    assert _denied(reader, "CREATE TABLE sneaky (x INT)")
    assert _denied(reader, f"SELECT * FROM `{names.other_database}`.secrets")
    reader.dispose()

    other = check_connection(result.reader_url.rsplit("/", 1)[0] + f"/{names.other_database}?charset=utf8mb4")
    assert not other.ok and other.problem == "no_privileges"


def test_running_setup_again_is_idempotent_and_repairs_seed_style_grants(
        admin_url: str, admin_engine: sa.Engine, names: Names) -> None:
    first = _setup(admin_url, names)
    writer = sa.create_engine(first.database_url, poolclass=sa.NullPool)
    with writer.begin() as c:
        c.execute(sa.text("INSERT INTO patients (code, note, created_at) VALUES ('P1', '', NOW())"))
    writer.dispose()
    with admin_engine.connect() as c:  # what the seed told people to do
        c.execute(sa.text("GRANT SELECT ON *.* TO :u@'localhost'"), {"u": names.reader})
        c.execute(sa.text("GRANT SELECT ON *.* TO :u@'127.0.0.1'"), {"u": names.reader})

    second = _setup(admin_url, names)

    assert not second.created_database
    assert (second.writer_password, second.reader_password) == (first.writer_password, first.reader_password)
    with admin_engine.connect() as c:
        grants = [g for h in second.reader_hosts
                  for g in c.execute(sa.text("SHOW GRANTS FOR :u@:h"), {"u": names.reader, "h": h}).scalars()]
    assert not any("ON *.*" in g and "SELECT" in g for g in grants), grants
    assert all(g.startswith("GRANT USAGE ON *.*") or g.startswith("GRANT SELECT ON `") for g in grants), grants
    assert not any("`.* TO" in g for g in grants), grants  # table by table, never the whole database
    with sa.create_engine(second.reader_url, poolclass=sa.NullPool).connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM patient_ids")).scalar() == 1  # data untouched

    rotated = _setup(admin_url, names, rotate_passwords=True)
    assert rotated.writer_password != first.writer_password
    assert check_connection(rotated.database_url).ok
    stale = check_connection(first.database_url)
    assert not stale.ok and stale.problem == "wrong_password"
    assert SecretStore().get("SECRET_PASSWORD") == rotated.writer_password


def test_bad_admin_password_gives_a_plain_message_and_changes_nothing(
        admin_url: str, admin_engine: sa.Engine, names: Names) -> None:
    admin = AdminLogin.from_url(admin_url, password="not-the-root-password")
    with pytest.raises(MySQLSetupError) as err:
        set_up_mysql(admin, database=names.database, writer_user=names.writer, reader_user=names.reader,
                     secrets=SecretStore())
    assert err.value.problem == "wrong_password"
    assert "refused the user name or password" in err.value.message
    with admin_engine.connect() as c:
        assert not c.execute(sa.text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :d"),
                             {"d": names.database}).scalar()
    assert SecretStore().get("SECRET_USER") is None


def test_unreachable_server_and_missing_database_are_named() -> None:
    down = check_connection("mysql+pymysql://someone:pw@127.0.0.1:1/wearsync")
    assert (down.ok, down.problem) == (False, "unreachable")
    assert "No MySQL server answers at 127.0.0.1:1" in down.message
    with pytest.raises(MySQLSetupError) as err:
        set_up_mysql(AdminLogin(port=1), secrets=SecretStore())
    assert err.value.problem == "unreachable"


def test_missing_database(admin_url: str) -> None:
    check = check_connection(admin_url.rstrip("/") + "/wearsync_no_such_db_here")
    assert (check.ok, check.problem) == (False, "database_missing")
    assert "does not exist" in check.message


@pytest.mark.parametrize("field,value", [
    ("database", "x`; DROP DATABASE mysql; --"),
    ("database", ""),
    ("writer_user", "w' OR '1'='1"),
    ("reader_user", "r@%"),
    ("reader_user", "a" * 33),
])
def test_names_that_could_inject_sql_are_refused_before_connecting(field: str, value: str) -> None:
    kw = {"database": "wearsync", "writer_user": "w1", "reader_user": "r1", field: value}
    # port 1: if validation let it through, the error would be "unreachable", not InvalidInput
    with pytest.raises(InvalidInput):
        set_up_mysql(AdminLogin(port=1), secrets=SecretStore(), **kw)


def test_same_writer_and_reader_or_admin_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="two different accounts"):
        set_up_mysql(AdminLogin(port=1), writer_user="same", reader_user="same", secrets=SecretStore())
    with pytest.raises(InvalidInput, match="admin account"):
        set_up_mysql(AdminLogin(port=1, user="root"), writer_user="root", secrets=SecretStore())


def test_passwords_with_quotes_and_backslashes_are_passed_safely(admin_url: str, names: Names) -> None:
    tricky = "it's a \\'tricky\\' pass\"word%s;--"
    result = _setup(admin_url, names, writer_password=tricky)
    assert result.writer_password == tricky
    assert check_connection(result.database_url).ok
