"""The Database box of the Settings page: where the data lives, "Test connection", the MySQL
set-up wizard (gui/pages/settings/mysql_dialog.py), and switching back to the built-in database."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QWidget

from gui.context import PageContext
from gui.pages.settings.mysql_dialog import MySQLWizard, plain
from gui.widgets import Banner, Card, button, label
from services.reach import database_switch as dbs
from services.reach.mysql_setup import ConnectionCheck, check_connection

KINDS = {"sqlite": "Built-in database (SQLite)", "mysql": "MySQL / MariaDB"}


class DatabaseBox(Card):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.current: dbs.CurrentDatabase | None = None
        self.wizard: MySQLWizard | None = None
        self.body.addWidget(label("Database", "section"))
        db = ctx.app.db
        self.kind = label(KINDS.get(db.dialect, db.dialect))
        self.kind.setObjectName("databaseKind")
        self.url = label(db.safe_url(), "mono", wrap=True)  # never shows a password
        self.url.setObjectName("databaseUrl")
        self.body.addWidget(self.kind)
        self.body.addWidget(self.url)
        self.override = Banner("warning")
        self.override.setObjectName("databaseOverride")
        self.body.addWidget(self.override)

        self.explain = label("", "help", wrap=True)
        self.body.addWidget(self.explain)
        row = QHBoxLayout()
        self.test_button = button("Test connection", "refresh", on_click=self.test)
        self.test_button.setObjectName("databaseTest")
        row.addWidget(self.test_button)
        self.test_result = label("", wrap=True)
        self.test_result.setObjectName("databaseTestResult")
        row.addWidget(self.test_result, 1)
        self.sqlite_button = button("Switch back to the built-in database…", danger=True, on_click=self.use_sqlite)
        self.sqlite_button.setObjectName("databaseUseSqlite")
        row.addWidget(self.sqlite_button)
        self.wizard_button = button("Set up MySQL…", "database", primary=True, on_click=self.open_wizard)
        self.wizard_button.setObjectName("databaseWizard")
        row.addWidget(self.wizard_button)
        self.body.addLayout(row)
        self._show(db.dialect, False)

    # -- state ---------------------------------------------------------------------------
    def refresh(self) -> None:
        self.ctx.bridge.submit(dbs.describe_current, self.ctx.app, on_result=self._loaded, context=self)

    def _loaded_then_open(self, current: dbs.CurrentDatabase) -> None:
        self._loaded(current)
        self.open_wizard()

    def _loaded(self, current: dbs.CurrentDatabase) -> None:
        self.current = current
        self._show(current.dialect, current.overridden)

    def _show(self, dialect: str, overridden: bool) -> None:
        if dialect == "mysql":
            self.explain.setText("Grafana reads this database with its own read-only account. To move to another "
                                 "server, run the set-up again.")
            self.wizard_button.setText("Set up again…")
        else:
            self.explain.setText("Moving to a MySQL or MariaDB server lets Grafana show the data and suits "
                                 "long studies. The set-up creates the database and two accounts, copies your "
                                 "data and checks every table before switching.")
            self.wizard_button.setText("Set up MySQL…")
        self.sqlite_button.setVisible(dialect == "mysql")
        if overridden:
            self.override.show_message(
                "The database is chosen where WearSync is started (by whoever set it up), so changes here would "
                "not take effect. Ask them to remove that setting to use the set-up here.", "warning")
            self.override.setToolTip(f"Environment variable {dbs.OVERRIDE_ENV}")
        else:
            self.override.hide()
        self.apply_permissions()

    def apply_permissions(self) -> None:
        allowed = self.ctx.session.can("database")
        blocked = self.current is not None and self.current.overridden
        for btn in (self.wizard_button, self.sqlite_button):
            btn.setEnabled(allowed and not blocked)
            if not allowed:
                btn.setToolTip(f"Your role ({self.ctx.session.actor.role}) may not change the database.")
            elif blocked:
                btn.setToolTip(f"{dbs.OVERRIDE_ENV} decides the database.")
            else:
                btn.setToolTip("")

    # -- actions -------------------------------------------------------------------------
    def test(self) -> None:
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText("Testing…")
        self.ctx.bridge.submit(check_connection, self.ctx.app.db.url, on_result=self._tested,
                               on_error=lambda e: self._tested(ConnectionCheck(False, "unknown", plain(e))),
                               context=self)

    def _tested(self, check: ConnectionCheck) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("color: #166534;" if check.ok else "color: #b91c1c;")
        self.test_result.setText(("✓ " if check.ok else "") + check.message)

    def open_wizard(self) -> MySQLWizard | None:
        if self.current is None:  # not loaded yet: load, then open
            self.ctx.bridge.submit(dbs.describe_current, self.ctx.app,
                                   on_result=self._loaded_then_open, context=self)
            return None
        self.wizard = MySQLWizard(self.ctx, self.current, self.window())
        self.wizard.show()
        return self.wizard

    def use_sqlite(self) -> None:
        ok = self.ctx.dialogs.confirm(
            self, "Switch back to the built-in database?",
            "WearSync will use its built-in database again, as it was before MySQL was set up.\n\n"
            "Everything downloaded since then stays in MySQL and is NOT copied back: the built-in database "
            "will not have it. Grafana keeps showing the MySQL data.\n\nWearSync restarts to switch.",
            ok_label="Switch and restart", danger=True)
        if not ok:
            return
        self.ctx.bridge.submit(dbs.switch_app_to_sqlite, self.ctx.app, self.ctx.session.actor,
                               on_result=lambda _p: self.ctx.restart(),
                               on_error=lambda e: self.ctx.dialogs.error(self, e), context=self)
