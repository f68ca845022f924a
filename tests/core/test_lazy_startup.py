"""Start-up stays cheap (issue 15): the schema check reads the revisions without Alembic, and an
app whose schema is current opens without importing Alembic at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from db.engine import Database
from db.migrate import MIGRATIONS, current_revision, downgrade, head_revision, upgrade

ROOT = Path(__file__).resolve().parents[2]


def test_head_revision_is_what_alembic_finds() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_current_revision_is_what_alembic_reads(db_url: str) -> None:
    from alembic.runtime.migration import MigrationContext

    db = Database(db_url)
    try:
        assert current_revision(db) is None  # never migrated
        upgrade(db)
        downgrade(db, "0008_vendor_fields")
        with db.engine.connect() as conn:
            stamped = MigrationContext.configure(conn).get_current_revision()
        assert stamped == "0008_vendor_fields" == current_revision(db)
        upgrade(db)
        assert current_revision(db) == head_revision()
        with db.engine.begin() as conn:  # a stamped but emptied version table: not migrated
            conn.execute(text("DELETE FROM alembic_version"))
        assert current_revision(db) is None
    finally:
        db.dispose()


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'current.sqlite3'}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    code = (
        "import sys\n"
        "from services.app import WearSync\n"
        "app = WearSync.open()\n"
        "app.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    env = {**os.environ, "WEARSYNC_DATABASE_URL": url, "WEARSYNC_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT), "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
