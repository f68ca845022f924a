"""A migrated MariaDB database filled with the test population, read through the reader account
that the MySQL set-up creates (as Grafana would). Built once per module: migrating is the slow part."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import keyring
import pytest
import sqlalchemy as sa

from db.engine import Database
from services.reach.mysql_setup import AdminLogin, MySQLSetupResult, set_up_mysql
from services.secrets import SecretStore
from tests.conftest import MYSQL_ADMIN_URL, REQUIRE_MARIADB, mariadb_reason
from tests.support.keyrings import MemoryKeyring
from tests.support.wearsync_data import Population, populate


@dataclass
class GrafanaDb:
    setup: MySQLSetupResult
    reader: sa.Engine
    population: Population


@pytest.fixture(scope="module")
def grafana_db() -> Iterator[GrafanaDb]:
    reason = mariadb_reason()
    if reason:
        if REQUIRE_MARIADB:
            pytest.fail("CI must run the MariaDB tests: " + reason)
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:8]
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())  # module scope runs before the per-test keyring fixture
    try:
        setup = set_up_mysql(AdminLogin.from_url(MYSQL_ADMIN_URL), database=f"wsg_{tag}", writer_user=f"wgw{tag}",
                             reader_user=f"wgr{tag}", secrets=SecretStore({"PYTHON_KEYRING_BACKEND": "memory"}))
    finally:
        keyring.set_keyring(previous)
    reader = sa.create_engine(setup.reader_url, poolclass=sa.NullPool)
    try:  # the accounts and the database go even when filling it fails
        writer = Database(setup.database_url)
        try:
            population = populate(writer)
        finally:
            writer.dispose()
        yield GrafanaDb(setup, reader, population)
    finally:
        reader.dispose()
        admin = sa.create_engine(MYSQL_ADMIN_URL, poolclass=sa.NullPool)
        with admin.connect() as c:
            for user in (setup.writer_user, setup.reader_user, setup.owner_user):
                for host in setup.client_hosts:
                    c.execute(sa.text("DROP USER IF EXISTS :u@:h"), {"u": user, "h": host})
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{setup.database}`"))
        admin.dispose()
