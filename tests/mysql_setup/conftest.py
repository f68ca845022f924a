"""MariaDB fixtures for the set-up tests: an admin login, and unique names that are dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from tests.conftest import MYSQL_ADMIN_URL, REQUIRE_MARIADB, mariadb_reason

HOSTS = ("localhost", "127.0.0.1", "%")


@dataclass
class Names:
    database: str
    writer: str
    reader: str
    other_database: str

    @property
    def owner(self) -> str:
        from services.reach.mysql_setup import default_owner

        return default_owner(self.writer)


@pytest.fixture
def admin_url() -> str:
    reason = mariadb_reason()
    if reason:
        if REQUIRE_MARIADB:
            pytest.fail("CI must run the MariaDB tests: " + reason)
        pytest.skip(reason)
    return MYSQL_ADMIN_URL


@pytest.fixture
def admin_engine(admin_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(admin_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def names(admin_engine: sa.Engine) -> Iterator[Names]:
    """Unique per test. The other database's name is what an unescaped `_` wildcard in
    `GRANT ... ON wst_<hex>.*` would also match, so the isolation test proves the escaping."""
    tag = uuid.uuid4().hex[:8]
    n = Names(database=f"wst_{tag}", writer=f"wsw{tag}", reader=f"wsr{tag}", other_database=f"wstX{tag}")
    yield n
    with admin_engine.connect() as c:
        for user in (n.writer, n.reader, n.owner):
            for host in HOSTS:
                c.execute(sa.text("DROP USER IF EXISTS :u@:h"), {"u": user, "h": host})
        for db in (n.database, n.other_database):
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{db}`"))
