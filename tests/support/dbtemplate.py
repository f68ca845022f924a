"""A migrated database for the `app` fixtures, made once per test session and copied per test.

Running every migration costs about 0.1 s per test on SQLite and 2-4 s on MariaDB (some forty
ALTER TABLEs and CREATE INDEXes, each a table rebuild). Tests that only need an app on the current
schema get a copy of one database migrated by the real migrations (db.migrate.upgrade), so they
start from exactly what a fresh upgrade leaves; the migrations themselves stay tested where the
tests call `upgrade`/`downgrade` on an empty database (db_url, mysql_url), and
tests/core/test_db_template.py checks that a copy equals a freshly migrated database.

- SQLite: the file copied (the WAL folded into it first).
- MariaDB: each base table re-created from SHOW CREATE TABLE (foreign keys, indexes, charset and
  collation included), its rows copied, then the views (their text with the template's schema
  name replaced) and the triggers.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path

import sqlalchemy as sa


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class SqliteTemplate:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._path: Path | None = None

    def _ensure(self) -> Path:
        if self._path is None:
            from db.engine import Database
            from db.migrate import upgrade

            path = self._folder / "template.sqlite3"
            db = Database(f"sqlite:///{path}")
            try:
                upgrade(db)
            finally:
                db.dispose()
            con = sqlite3.connect(path)  # fold the WAL into the file: the copy is the whole database
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
            self._path = path
        return self._path

    def copy_to(self, target: Path) -> None:
        """`target` becomes a migrated database (owner-only, as db.engine creates one); a database the
        test has already made there (filled data, an older schema) is left as it is."""
        from db.engine import create_private_file

        if target.exists() and target.stat().st_size > 0:
            return
        source = self._ensure()
        create_private_file(target)
        with source.open("rb") as src, target.open("r+b") as dst:
            shutil.copyfileobj(src, dst)


class MariaDBTemplate:
    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url.rstrip("/") + "/"
        self._name: str | None = None
        self._engine: sa.Engine | None = None

    def _admin(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self._admin_url)
        return self._engine

    def _ensure(self) -> str:
        if self._name is None:
            from db.engine import Database
            from db.migrate import upgrade

            name = "wearsync_test_tmpl_" + uuid.uuid4().hex[:10]
            with self._admin().connect() as c:
                c.execute(sa.text(f"CREATE DATABASE {_q(name)} CHARACTER SET utf8mb4"))
            self._name = name
            db = Database(self._admin_url + name)
            try:
                upgrade(db)
            finally:
                db.dispose()
        return self._name

    def copy_to(self, target: str) -> None:
        """Fill the empty database `target` with the template's schema and rows; a database the test has
        already put tables in (filled data, an older schema) is left as it is."""
        tmpl = self._ensure()
        with self._admin().connect() as c:
            if c.execute(sa.text("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = :s"),
                         {"s": target}).scalar():
                return
            c.exec_driver_sql("SET SESSION foreign_key_checks = 0")
            c.exec_driver_sql(f"USE {_q(target)}")
            tables = c.execute(sa.text(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = :s "
                "ORDER BY TABLE_NAME"), {"s": tmpl}).all()
            for table, kind in tables:
                if kind != "BASE TABLE":
                    continue
                ddl = c.exec_driver_sql(f"SHOW CREATE TABLE {_q(tmpl)}.{_q(table)}").one()[1]
                c.exec_driver_sql(ddl)
                has_rows = c.exec_driver_sql(f"SELECT 1 FROM {_q(tmpl)}.{_q(table)} LIMIT 1").first()
                if has_rows:
                    c.exec_driver_sql(f"INSERT INTO {_q(table)} SELECT * FROM {_q(tmpl)}.{_q(table)}")
            views = c.execute(sa.text(
                "SELECT TABLE_NAME, VIEW_DEFINITION, SECURITY_TYPE FROM information_schema.VIEWS "
                "WHERE TABLE_SCHEMA = :s ORDER BY TABLE_NAME"), {"s": tmpl}).all()
            for view, definition, security in views:
                body = definition.replace(_q(tmpl) + ".", "")
                c.exec_driver_sql(f"CREATE SQL SECURITY {security} VIEW {_q(view)} AS {body}")
            triggers = c.execute(sa.text(
                "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_STATEMENT "
                "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = :s ORDER BY ACTION_ORDER"),
                {"s": tmpl}).all()
            for name, timing, event, table, statement in triggers:
                c.exec_driver_sql(f"CREATE TRIGGER {_q(name)} {timing} {event} ON {_q(table)} "
                                  f"FOR EACH ROW {statement}")
            c.commit()

    def drop(self) -> None:
        if self._name is not None:
            with self._admin().connect() as c:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS {_q(self._name)}"))
            self._name = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
