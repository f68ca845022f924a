"""Shared fixtures: a fresh database per test (SQLite always, MariaDB too), an in-memory keyring,
an isolated data directory, and a helper to run `main.py` as a user would."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from tests.support.dbtemplate import MariaDBTemplate, SqliteTemplate
from tests.support.main_py import MainPy

ROOT = Path(__file__).resolve().parents[1]
MYSQL_ADMIN_URL = os.environ.get("WEARSYNC_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
# In CI the MariaDB tests must run: an unreachable server is a failure there, a skip elsewhere.
REQUIRE_MARIADB = os.environ.get("CI") == "true" or os.environ.get("WEARSYNC_REQUIRE_MARIADB") == "1"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data directory and an empty in-memory keyring."""
    from tests.support.keyrings import MemoryKeyring

    home = tmp_path / "home"
    monkeypatch.setenv("WEARSYNC_HOME", str(home))
    monkeypatch.delenv("WEARSYNC_DATABASE_URL", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.keyrings.MemoryKeyring")
    for name in ("FITBIT_CLIENT_ID", "FITBIT_CLIENT_SECRET", "WITHINGS_CLIENT_ID", "WITHINGS_CLIENT_SECRET",
                 "POLAR_CLIENT_ID", "POLAR_CLIENT_SECRET", "NGROK_AUTHTOKEN", "WEARSYNC_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    MemoryKeyring._store.clear()
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield
    keyring.set_keyring(previous)


def _mariadb_available() -> str | None:
    """None when reachable, else the reason."""
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(MYSQL_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return f"MariaDB/MySQL not reachable at {MYSQL_ADMIN_URL} ({type(exc).__name__}); set WEARSYNC_TEST_MYSQL_URL"


_MARIADB_REASON: list[str | None] = []


def mariadb_reason() -> str | None:
    if not _MARIADB_REASON:
        _MARIADB_REASON.append(_mariadb_available())
    return _MARIADB_REASON[0]


@pytest.fixture
def mysql_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    request.node.add_marker(pytest.mark.mariadb)
    reason = mariadb_reason()
    if reason:
        if REQUIRE_MARIADB:
            pytest.fail("CI must run the MariaDB tests: " + reason)
        pytest.skip(reason)
    import sqlalchemy as sa

    name = "wearsync_test_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(MYSQL_ADMIN_URL)
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield MYSQL_ADMIN_URL.rstrip("/") + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test on SQLite and on MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return str(request.getfixturevalue("mysql_url"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def _mariadb_template() -> Iterator[MariaDBTemplate]:
    template = MariaDBTemplate(MYSQL_ADMIN_URL)
    yield template
    template.drop()


def migrated(db_url: str, request: pytest.FixtureRequest) -> str:
    """`db_url` (an empty database) filled with a copy of the session's migrated one
    (tests/support/dbtemplate.py): the app opens it without running the migrations again."""
    if db_url.startswith("sqlite:///"):
        request.getfixturevalue("_sqlite_template").copy_to(Path(db_url.removeprefix("sqlite:///")))
    else:
        request.getfixturevalue("_mariadb_template").copy_to(db_url.rsplit("/", 1)[1])
    return db_url


@pytest.fixture
def app(db_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    from services.app import WearSync

    monkeypatch.setenv("WEARSYNC_DATABASE_URL", migrated(db_url, request))
    a = WearSync.open()
    yield a
    a.close()


@pytest.fixture
def sqlite_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
               request: pytest.FixtureRequest):
    """For tests whose subject does not depend on the dialect."""
    from services.app import WearSync

    monkeypatch.setenv("WEARSYNC_DATABASE_URL", migrated(f"sqlite:///{tmp_path / 'test.sqlite3'}", request))
    a = WearSync.open()
    yield a
    a.close()


@pytest.fixture(scope="session")
def main_py() -> Iterator[MainPy]:
    """`python main.py ARGV` as a process of its own, without its second of imports each time
    (tests/support/main_py.py)."""
    runner = MainPy()
    yield runner
    runner.close()


@pytest.fixture
def run_cli(tmp_path: Path, main_py: MainPy):  # type: ignore[no-untyped-def]
    """Run `python main.py ...` in a process of its own, as a user or a script would."""
    keyring_file = tmp_path / "keyring.json"

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        e = dict(os.environ)
        e["PYTHON_KEYRING_BACKEND"] = "tests.support.keyrings.FileKeyring"
        e["WEARSYNC_TEST_KEYRING_FILE"] = str(keyring_file)
        e["PYTHONPATH"] = str(ROOT)
        if env:
            e.update(env)
        return main_py.run(list(args), env=e, input=input, timeout=timeout)

    return run


def pytest_report_header(config) -> str:  # type: ignore[no-untyped-def]
    days = os.environ.get("WEARSYNC_TEST_CLOCK_OFFSET_DAYS", "").strip()
    if days:
        return f"WearSync clock moved {days} days ahead for this run (WEARSYNC_TEST_CLOCK_OFFSET_DAYS={days})"
    return "WearSync clock: the real date (set WEARSYNC_TEST_CLOCK_OFFSET_DAYS to move it)"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    """Say plainly whether the MariaDB half of the suite ran (CI must show it did)."""
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if "mariadb" in getattr(rep, "keywords", {}):
                counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        summary = ", ".join(f"{n} {k}" for k, n in counts.items())
        terminalreporter.write_line(f"MariaDB tests ({MYSQL_ADMIN_URL}): {summary}")
