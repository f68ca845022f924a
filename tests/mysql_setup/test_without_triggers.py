"""A database that cannot hold triggers (docs/SCALING.md: the path to a MySQL-compatible distributed
database, several of which have none): the schema upgrades without them and the app works, the audit
trail staying append-only through the app's own guard. Here MariaDB refuses CREATE TRIGGER for real:
the owner account has every privilege on the database except TRIGGER."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import update

from db.models import AuditEntry
from services.accounts.actor import HOST
from services.accounts.audit import AuditTrailReadOnly

PRIVILEGES = ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, REFERENCES, CREATE VIEW, SHOW VIEW, "
              "CREATE TEMPORARY TABLES, LOCK TABLES")  # everything an upgrade uses, TRIGGER left out


@pytest.fixture
def no_trigger_url(mysql_url: str) -> Iterator[str]:
    admin_url, database = mysql_url.rsplit("/", 1)
    user, password = "ws_notrig_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    admin = sa.create_engine(admin_url + "/", poolclass=sa.NullPool)
    hosts = ("127.0.0.1", "localhost")
    with admin.begin() as c:
        for h in hosts:
            c.execute(sa.text("CREATE USER :u@:h IDENTIFIED BY :p"), {"u": user, "h": h, "p": password})
            c.execute(sa.text(f"GRANT {PRIVILEGES} ON `{database}`.* TO :u@:h"), {"u": user, "h": h})
    try:
        yield f"mysql+pymysql://{user}:{password}@127.0.0.1:3306/{database}"
    finally:
        with admin.begin() as c:
            for h in hosts:
                c.execute(sa.text("DROP USER IF EXISTS :u@:h"), {"u": user, "h": h})
        admin.dispose()


def test_the_app_upgrades_and_runs_where_triggers_cannot_be_created(
        no_trigger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.app import WearSync

    monkeypatch.setenv("WEARSYNC_DATABASE_URL", no_trigger_url)
    app = WearSync.open()
    try:
        with app.db.engine.connect() as c:
            triggers = c.execute(sa.text("SELECT COUNT(*) FROM information_schema.TRIGGERS "
                                         "WHERE TRIGGER_SCHEMA = DATABASE()")).scalar()
            revision = c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert triggers == 0, "this account may not create triggers: none were made"
        assert revision is not None and revision >= "0009"  # every migration after 0003 ran too
        app.patients.add("P-NT-1", [], HOST)  # writes a patient and an audit entry
        assert app.patients.exists("P-NT-1")
        assert any(e.target == "P-NT-1" for e in app.audit.entries())
        with pytest.raises(AuditTrailReadOnly), app.db.session() as s:  # the app's own guard still holds
            s.execute(update(AuditEntry).values(detail="changed"))
    finally:
        app.close()
