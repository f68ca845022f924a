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


def test_opening_the_window_registers_no_command(tmp_path: Path) -> None:
    """`main.py` (or with --sandbox/--minimized) opens the window without importing the command modules;
    any other argument still gets every command (here: its help)."""
    code = (
        "import sys\n"
        "import main\n"
        "import gui.application\n"
        "gui.application.run_gui = lambda **kw: print('window', sorted(kw.items()),"
        " sorted(m for m in sys.modules if m.startswith('services.cli'))) or 0\n"
        "assert main.main(['--minimized']) == 0\n"
    )
    env = {**os.environ, "WEARSYNC_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "window [('minimized', True), ('sandbox', False)] []"
    helped = subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert helped.returncode == 0 and "patients" in helped.stdout and "Set-up:" in helped.stdout


def test_opening_the_app_imports_no_vendor_module(tmp_path: Path) -> None:
    """The vendor registry resolves a vendor's module on first use: opening the app (which purges old
    deletions through the sync store's records) loads neither a vendor module nor requests/oauthlib,
    and asking for a vendor by name still finds it."""
    code = (
        "import sys\n"
        "from services.app import WearSync\n"
        "app = WearSync.open()\n"
        "heavy = lambda: sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'oauthlib')"
        " or m.startswith(('services.vendors.fitbit', 'services.vendors.withings', 'services.vendors.polar')))\n"
        "print(heavy())\n"
        "from services.vendors import VENDOR_CLASSES\n"
        "print(list(VENDOR_CLASSES), VENDOR_CLASSES['polar'].label, VENDOR_CLASSES.loaded())\n"
        "app.close()\n"
    )
    env = {**os.environ, "WEARSYNC_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    env.pop("WEARSYNC_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-2:] == ["[]", "['fitbit', 'withings', 'polar'] Polar ['polar']"]
