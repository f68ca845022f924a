"""The `app` fixtures open a copy of one migrated database (tests/support/dbtemplate.py) instead of
migrating each test's own: the copy must be exactly what the migrations make of an empty database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from db.engine import Database
from db.migrate import current_revision, head_revision, upgrade
from tests.conftest import MYSQL_ADMIN_URL
from tests.support.dbtemplate import MariaDBTemplate, SqliteTemplate


def _sqlite_picture(path: Path) -> dict[str, Any]:
    con = sqlite3.connect(path)
    try:
        objects = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        rows = {name: con.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall()
                for kind, name, _, _ in objects if kind == "table"}
        return {"objects": objects, "rows": rows, "journal": con.execute("PRAGMA journal_mode").fetchone(),
                "user_version": con.execute("PRAGMA user_version").fetchone()}
    finally:
        con.close()


def test_sqlite_copy_is_a_freshly_migrated_database(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.sqlite3"
    db = Database(f"sqlite:///{fresh}")
    upgrade(db)
    db.dispose()
    copy = tmp_path / "copy.sqlite3"
    (tmp_path / "template").mkdir()
    SqliteTemplate(tmp_path / "template").copy_to(copy)
    assert _sqlite_picture(copy) == _sqlite_picture(fresh)
    assert copy.stat().st_mode & 0o777 == 0o600
    db = Database(f"sqlite:///{copy}")
    try:
        assert current_revision(db) == head_revision()
    finally:
        db.dispose()


def _mariadb_picture(conn: sa.Connection, schema: str) -> dict[str, Any]:
    def q(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sa.text(sql), {"s": schema}).all()]

    tables = q("SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, CREATE_OPTIONS FROM information_schema.TABLES "
               "WHERE TABLE_SCHEMA = :s ORDER BY TABLE_NAME")
    return {
        "tables": tables,
        "columns": q("SELECT TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, "
                     "EXTRA, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_KEY FROM information_schema.COLUMNS "
                     "WHERE TABLE_SCHEMA = :s ORDER BY TABLE_NAME, ORDINAL_POSITION"),
        "indexes": q("SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART, INDEX_TYPE "
                     "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = :s "
                     "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"),
        "foreign_keys": q("SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
                          "k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE "
                          "FROM information_schema.KEY_COLUMN_USAGE k "
                          "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
                          "ON r.CONSTRAINT_SCHEMA = k.TABLE_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
                          "AND r.TABLE_NAME = k.TABLE_NAME WHERE k.TABLE_SCHEMA = :s "
                          "ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"),
        "checks": q("SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                    "WHERE CONSTRAINT_SCHEMA = :s ORDER BY TABLE_NAME, CONSTRAINT_NAME"),
        "views": [(name, definition.replace(f"`{schema}`.", ""), *rest) for name, definition, *rest in
                  q("SELECT TABLE_NAME, VIEW_DEFINITION, SECURITY_TYPE, CHECK_OPTION, IS_UPDATABLE "
                    "FROM information_schema.VIEWS WHERE TABLE_SCHEMA = :s ORDER BY TABLE_NAME")],
        "triggers": q("SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_ORDER, "
                      "ACTION_STATEMENT, SQL_MODE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = :s "
                      "ORDER BY TRIGGER_NAME"),
        "rows": {t[0]: sorted(map(tuple, conn.exec_driver_sql(f"SELECT * FROM `{schema}`.`{t[0]}`").all()))
                 for t in tables if t[1] == "BASE TABLE"},
    }


@pytest.mark.mariadb
def test_mariadb_copy_is_a_freshly_migrated_database(mysql_url: str) -> None:
    fresh_name = mysql_url.rsplit("/", 1)[1]
    copy_name = fresh_name + "_copy"
    db = Database(mysql_url)
    upgrade(db)
    db.dispose()
    admin = sa.create_engine(MYSQL_ADMIN_URL)
    template = MariaDBTemplate(MYSQL_ADMIN_URL)
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE `{copy_name}` CHARACTER SET utf8mb4")
        template.copy_to(copy_name)
        with admin.connect() as c:
            fresh = _mariadb_picture(c, fresh_name)
            copy = _mariadb_picture(c, copy_name)
    finally:
        template.drop()
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS `{copy_name}`")
        admin.dispose()
    assert fresh["tables"] and fresh["triggers"] and fresh["views"] and fresh["foreign_keys"]
    assert ("alembic_version" in fresh["rows"]) and fresh["rows"]["alembic_version"] == [(head_revision(),)]
    for part in fresh:
        assert copy[part] == fresh[part], part


def test_a_database_the_test_prepared_is_left_as_it_is(db_url: str, request: pytest.FixtureRequest) -> None:
    """A test that filled its database (chart data) or left an older schema there before asking for
    the app gets that database, not the template over it."""
    from tests.conftest import migrated

    db = Database(db_url)
    try:
        upgrade(db, revision="0002_grafana")
        with db.engine.begin() as c:
            c.execute(sa.text("INSERT INTO patients (code, note, created_at) VALUES ('KEEP-1', '', '2026-01-01')"))
    finally:
        db.dispose()
    migrated(db_url, request)
    db = Database(db_url)
    try:
        assert current_revision(db) == "0002_grafana"
        with db.engine.connect() as c:
            assert c.execute(sa.text("SELECT code FROM patients")).scalars().all() == ["KEEP-1"]
    finally:
        db.dispose()
