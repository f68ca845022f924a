"""Switching WearSync to MySQL: wearsync.json holds the address, the keyring holds the password."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from services import config
from services.accounts.actor import HOST
from services.app import WearSync
from services.errors import InvalidInput, MissingSecret
from services.reach.mysql_setup import (
    AdminLogin,
    MySQLSetupError,
    configured_database,
    set_up_mysql,
    switch_to_mysql,
    switch_to_sqlite,
)
from services.secrets import SecretStore
from tests.mysql_setup.conftest import Names


def _home() -> Path:
    return Path(os.environ["WEARSYNC_HOME"])


def test_without_a_config_file_the_database_is_sqlite_in_home() -> None:
    assert config.database_url() == f"sqlite:///{_home() / 'wearsync.sqlite3'}"


def test_config_file_url_gets_its_password_from_the_keyring() -> None:
    config.write_config_file({"database_url": "mysql+pymysql://wsw@db.example:3306/wearsync"})
    with pytest.raises(MissingSecret, match="SECRET_PASSWORD"):
        config.database_url()
    SecretStore().set("SECRET_PASSWORD", "s3cret/with@odd:chars")
    url = sa.engine.make_url(config.database_url())
    assert (url.username, url.password, url.host, url.database) == ("wsw", "s3cret/with@odd:chars", "db.example",
                                                                    "wearsync")
    assert "s3cret" not in (_home() / "wearsync.json").read_text()


def test_environment_url_wins_over_the_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_config_file({"database_url": "mysql+pymysql://wsw@db.example:3306/wearsync"})
    monkeypatch.setenv("WEARSYNC_DATABASE_URL", "sqlite:///elsewhere.sqlite3")
    assert config.database_url() == "sqlite:///elsewhere.sqlite3"


def test_damaged_config_file_gives_a_plain_message() -> None:
    _home().mkdir(parents=True, exist_ok=True)
    (_home() / "wearsync.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="damaged"):
        config.database_url()


def test_write_config_file_keeps_other_keys_and_removes_none() -> None:
    config.write_config_file({"database_url": "x", "other": 1})
    config.write_config_file({"database_url": None})
    assert json.loads((_home() / "wearsync.json").read_text()) == {"other": 1}


def test_switch_to_mysql_then_the_app_opens_it_and_back(admin_url: str, names: Names) -> None:
    result = set_up_mysql(AdminLogin.from_url(admin_url), database=names.database, writer_user=names.writer,
                          reader_user=names.reader, secrets=SecretStore())
    path = switch_to_mysql(result)
    stored = json.loads(path.read_text())
    assert stored == {"database_url": result.config_url}
    assert result.writer_password not in path.read_text()
    assert configured_database() == result.config_url

    app = WearSync.open()
    try:
        assert app.db.dialect == "mysql"
        app.patients.add("P-MYSQL", ["fitbit"], actor=HOST)
    finally:
        app.close()
    with sa.create_engine(result.reader_url, poolclass=sa.NullPool).connect() as c:
        assert c.execute(sa.text("SELECT code FROM patient_ids")).scalars().all() == ["P-MYSQL"]

    switch_to_sqlite()
    assert config.database_url().startswith("sqlite:///")


def test_switch_refuses_when_the_stored_password_does_not_work(admin_url: str, names: Names) -> None:
    result = set_up_mysql(AdminLogin.from_url(admin_url), database=names.database, writer_user=names.writer,
                          reader_user=names.reader, secrets=SecretStore(), migrate=False)
    SecretStore().set("SECRET_PASSWORD", "not-the-password-at-all")
    with pytest.raises(MySQLSetupError, match="stays on its current database") as err:
        switch_to_mysql(result)
    assert err.value.problem == "wrong_password"
    assert not (_home() / "wearsync.json").exists()
