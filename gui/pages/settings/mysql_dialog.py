"""The MySQL/MariaDB set-up wizard (Settings → Database → Set up MySQL…).

Three steps: (1) an admin login, tested before going on; (2) the names of the database and of
WearSync's two accounts, and whether to copy the current data; (3) the run: set-up, the checked
copy with a progress bar, the switch, the per-table verification, then a clean restart.

Every service call runs off the UI thread. Background work (downloads, the callback listener) is
stopped before the copy so nothing is written to the old database after its snapshot; if the run
fails it is started again and WearSync stays on its current database.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QProgressBar,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.errors import advice_for
from gui.widgets import Banner, button, label
from services.errors import Conflict, WearSyncError
from services.reach import database_switch as dbs
from services.reach.db_move import MoveProgress, MoveReport
from services.reach.mysql_setup import (
    DEFAULT_DATABASE,
    DEFAULT_READER,
    DEFAULT_WRITER,
    AdminLogin,
    ConnectionCheck,
    MySQLSetupResult,
    check_connection,
    check_database_name,
    check_user_name,
)

STEP_TITLES = ("1  Admin login", "2  Names and data", "3  Set up and switch")


def plain(error: BaseException) -> str:
    return error.message if isinstance(error, WearSyncError) else advice_for(error).message


def field(text: str, placeholder: str = "", secret: bool = False, name: str = "") -> QLineEdit:
    edit = QLineEdit(text)
    edit.setPlaceholderText(placeholder)
    edit.setFixedWidth(320)
    if secret:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    if name:
        edit.setObjectName(name)
    return edit


class LoginStep(QWidget):
    def __init__(self) -> None:
        super().__init__()
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(label("Which MySQL or MariaDB server should hold WearSync's data?", "section"))
        col.addWidget(label(
            "WearSync uses an administrator account (often root) once, to create its database and two "
            "accounts of its own. The administrator password is not stored.", "muted", wrap=True))
        col.addSpacing(6)
        form = QFormLayout()
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(10)
        self.host = field("127.0.0.1", "e.g. 127.0.0.1 or db.clinic.local", name="mysqlHost")
        self.port = QSpinBox()
        self.port.setObjectName("mysqlPort")
        self.port.setRange(1, 65535)
        self.port.setValue(3306)
        self.port.setFixedWidth(110)
        self.user = field("root", name="mysqlAdminUser")
        self.password = field("", "empty if the account has none", secret=True, name="mysqlAdminPassword")
        form.addRow("Server", self.host)
        form.addRow("Port", self.port)
        form.addRow("Administrator", self.user)
        form.addRow("Password", self.password)
        test_row = QWidget()
        row = QHBoxLayout(test_row)
        row.setContentsMargins(0, 4, 0, 0)
        self.test_button = button("Test", "refresh")
        self.test_button.setObjectName("mysqlTest")
        row.addWidget(self.test_button)
        self.result = label("", wrap=True)
        self.result.setObjectName("mysqlTestResult")
        row.addWidget(self.result, 1)
        form.addRow("", test_row)
        col.addLayout(form)
        col.addStretch(1)

    def login(self) -> AdminLogin:
        return AdminLogin(self.host.text().strip() or "127.0.0.1", self.port.value(),
                          self.user.text().strip() or "root", self.password.text())

    def show_result(self, ok: bool, text: str) -> None:
        self.result.setProperty("role", "" if ok else "error")
        self.result.setStyleSheet("color: #166534;" if ok else "")
        self.result.setText(("✓ " if ok else "") + text)
        self.result.style().unpolish(self.result)
        self.result.style().polish(self.result)


class NamesStep(QWidget):
    def __init__(self, current: dbs.CurrentDatabase) -> None:
        super().__init__()
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(label("Names", "section"))
        col.addWidget(label("The defaults suit most clinics. Change them only if the server already holds "
                            "another WearSync.", "muted", wrap=True))
        form = QFormLayout()
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(10)
        self.database = field(DEFAULT_DATABASE, name="mysqlDatabase")
        self.writer = field(DEFAULT_WRITER, name="mysqlWriter")
        self.reader = field(DEFAULT_READER, name="mysqlReader")
        form.addRow("Database", self._with_help(self.database, "Created if it does not exist."))
        form.addRow("WearSync account", self._with_help(
            self.writer, "WearSync reads and writes data with it; it cannot change or delete the audit trail. "
                         "A separate owner account (this name with _owner) changes the tables at upgrades."))
        form.addRow("Grafana account", self._with_help(
            self.reader, "Can only read the measurements, devices and download records — no passwords, "
                         "connections or settings."))
        col.addLayout(form)
        col.addSpacing(8)
        col.addWidget(label("Your data", "section"))
        what = f"{current.patients} patient{'s' if current.patients != 1 else ''}"
        self.move_data = QCheckBox(f"Move my existing data ({what}, their downloads, user accounts and settings)")
        self.move_data.setObjectName("mysqlMoveData")
        self.move_data.setChecked(current.dialect == "sqlite" and current.patients > 0)
        col.addWidget(self.move_data)
        col.addWidget(label(
            "The data is copied, then every table is compared (row counts and checksums) before WearSync "
            "switches. The built-in database is kept unchanged, with a backup copy. Without this, the new "
            "database starts empty.", "help", wrap=True))
        self.error = label("", "error", wrap=True)
        self.error.setObjectName("mysqlNamesError")
        self.error.hide()
        col.addWidget(self.error)
        col.addStretch(1)

    @staticmethod
    def _with_help(edit: QLineEdit, text: str) -> QWidget:
        cell = QWidget()
        row = QHBoxLayout(cell)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit)
        row.addWidget(label(text, "help"), 1)
        return cell

    def names(self) -> tuple[str, str, str]:
        """Checked here (pure functions), so a typo is caught before anything runs."""
        database = check_database_name(self.database.text())
        writer = check_user_name(self.writer.text(), "WearSync account")
        reader = check_user_name(self.reader.text(), "Grafana account")
        return database, writer, reader


class RunStep(QWidget):
    def __init__(self) -> None:
        super().__init__()
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        self.heading = label("Setting up…", "section")
        self.heading.setObjectName("mysqlRunHeading")
        col.addWidget(self.heading)
        self.lines = label("", "muted", wrap=True)
        self.lines.setObjectName("mysqlRunLog")
        col.addWidget(self.lines)
        self.bar = QProgressBar()
        self.bar.setObjectName("mysqlMoveProgress")
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(True)
        self.bar.setStyleSheet("QProgressBar { border: 1px solid #d1d5db; border-radius: 6px; background: #ffffff;"
                               " text-align: center; min-height: 20px; }"
                               " QProgressBar::chunk { background: #99d5cc; border-radius: 5px; }")
        self.bar.hide()
        col.addWidget(self.bar)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("mysqlVerification")
        self.table.setHorizontalHeaderLabels(["Table", "Rows before", "Rows in MySQL", "Checksum"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.setMinimumHeight(170)
        self.table.hide()
        col.addWidget(self.table, 1)
        self.banner = Banner("info")
        self.banner.setObjectName("mysqlRunBanner")
        col.addWidget(self.banner)
        self.stretch = QWidget()
        col.addWidget(self.stretch, 1)

    def say(self, text: str) -> None:
        current = self.lines.text()
        self.lines.setText(f"{current}\n{text}" if current else text)

    def show_report(self, report: MoveReport) -> None:
        rows = [t for t in report.tables if t.source_rows or t.target_rows]
        self.table.setRowCount(len(rows))
        for i, t in enumerate(rows):
            same = t.ok
            cells = [t.table.replace("_", " ").capitalize(), str(t.source_rows), str(t.target_rows),
                     "✓ matches" if same else "✗ differs"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if j == 3:
                    item.setForeground(Qt.GlobalColor.darkGreen if same else Qt.GlobalColor.red)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setVisible(bool(rows))
        self.stretch.setVisible(not rows)


class MySQLWizard(QDialog):
    """Opened by DatabaseBox. `finished_ok` after the switch; the restart is the caller's choice
    only in name: closing the wizard after a switch restarts WearSync."""

    progress_text = Signal(str)  # from worker threads
    move_progress = Signal(object)  # MoveProgress, from the copying thread

    def __init__(self, ctx: PageContext, current: dbs.CurrentDatabase, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.current = current
        self.setObjectName("mysqlWizard")
        self.setWindowTitle("Set up MySQL / MariaDB")
        self.setModal(True)
        self.resize(760, 640)
        self.result_: MySQLSetupResult | None = None
        self.report: MoveReport | None = None
        self.running = False
        self.switched = False
        self.background_stopped = False

        col = QVBoxLayout(self)
        col.setContentsMargins(24, 20, 24, 18)
        col.setSpacing(14)
        steps = QHBoxLayout()
        self.step_labels = [label(t, "muted") for t in STEP_TITLES]
        for i, lbl in enumerate(self.step_labels):
            steps.addWidget(lbl)
            if i < len(self.step_labels) - 1:
                arrow = label("›", "muted")
                steps.addWidget(arrow)
        steps.addStretch(1)
        col.addLayout(steps)

        self.login = LoginStep()
        self.names = NamesStep(current)
        self.run_step = RunStep()
        self.stack = QStackedWidget()
        for page in (self.login, self.names, self.run_step):
            self.stack.addWidget(page)
        col.addWidget(self.stack, 1)

        buttons = QHBoxLayout()
        self.back_button = button("Back", on_click=self.back)
        self.back_button.setObjectName("mysqlBack")
        self.cancel_button = button("Cancel", on_click=self.reject)
        self.cancel_button.setObjectName("mysqlCancel")
        self.next_button = button("Next", primary=True, on_click=self.next)
        self.next_button.setObjectName("mysqlNext")
        self.restart_button = button("Restart WearSync", "refresh", primary=True, on_click=self.accept)
        self.restart_button.setObjectName("mysqlRestart")
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.next_button)
        buttons.addWidget(self.restart_button)
        col.addLayout(buttons)

        self.login.test_button.clicked.connect(lambda: self.test_login(go_on=False))
        self.progress_text.connect(self.run_step.say)
        self.move_progress.connect(self._show_move_progress)
        self.finished.connect(self._on_finished)
        self._show_step(0)

    # -- navigation ------------------------------------------------------------------------
    def _show_step(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        for i, lbl in enumerate(self.step_labels):
            lbl.setProperty("role", "section" if i == index else "muted")
            lbl.style().unpolish(lbl)
            lbl.style().polish(lbl)
        self.back_button.setVisible(index == 1 or (index == 2 and not self.running and not self.switched))
        self.next_button.setText("Set up and switch" if index == 1 else "Next")
        self.next_button.setVisible(index < 2)
        self.restart_button.setVisible(index == 2 and self.switched)
        self.cancel_button.setVisible(not self.switched)
        self.cancel_button.setEnabled(not self.running)
        self.next_button.setDefault(True)

    def back(self) -> None:
        self.stack.setCurrentIndex(max(0, self.stack.currentIndex() - 1))
        self._show_step(self.stack.currentIndex())

    def next(self) -> None:
        index = self.stack.currentIndex()
        if index == 0:
            self.test_login(go_on=True)
        elif index == 1:
            try:
                self.names.names()
            except WearSyncError as exc:
                self.names.error.setText(exc.message)
                self.names.error.show()
                return
            self.names.error.hide()
            self.run()

    # -- step 1 ----------------------------------------------------------------------------
    def test_login(self, go_on: bool) -> None:
        url = self.login.login().url().render_as_string(hide_password=False)
        self.login.show_result(True, "Connecting…")
        self.login.test_button.setEnabled(False)
        self.next_button.setEnabled(False)

        def done(check: ConnectionCheck) -> None:
            self.login.test_button.setEnabled(True)
            self.next_button.setEnabled(True)
            self.login.show_result(check.ok, check.message)
            if check.ok and go_on:
                self._show_step(1)

        def failed(error: Exception) -> None:
            self.login.test_button.setEnabled(True)
            self.next_button.setEnabled(True)
            self.login.show_result(False, plain(error))

        self.ctx.bridge.submit(check_connection, url, on_result=done, on_error=failed, context=self)

    # -- step 3 ----------------------------------------------------------------------------
    def run(self) -> None:
        database, writer, reader = self.names.names()
        self.running = True
        self.result_ = self.report = None
        rs = self.run_step
        rs.lines.setText("")
        rs.banner.hide()
        rs.table.hide()
        rs.bar.hide()
        rs.stretch.show()
        rs.heading.setText("Setting up MySQL…")
        self._show_step(2)
        self.ctx.bridge.submit(dbs.set_up, self.ctx.app, self.ctx.session.actor, self.login.login(),
                               database=database, writer_user=writer, reader_user=reader,
                               progress=self.progress_text.emit,
                               on_result=self._set_up_done, on_error=self._failed, context=self)

    def _set_up_done(self, result: MySQLSetupResult) -> None:
        self.result_ = result
        self.run_step.say(result.describe())
        if self.names.move_data.isChecked():
            self.run_step.heading.setText("Moving your data…")
            self.run_step.say("Pausing downloads while the data is copied…")
            self.ctx.bridge.submit(self.ctx.app.stop_background, on_result=lambda _r: self._move(False),
                                   on_error=self._failed, context=self)
            self.background_stopped = True
        else:
            self._switch()

    def _move(self, overwrite: bool) -> None:
        assert self.result_ is not None
        self.run_step.bar.setValue(0)
        self.run_step.bar.show()
        self.ctx.bridge.submit(dbs.move_current_data, self.ctx.app, self.result_, self.ctx.session.actor,
                               overwrite=overwrite, progress=self.move_progress.emit,
                               on_result=self._moved, on_error=lambda e: self._move_failed(e, overwrite),
                               context=self)

    def _show_move_progress(self, p: MoveProgress) -> None:
        share = (p.rows_done / p.rows_total) if p.rows_total else 1.0
        value = int(100 * (p.table_index + share) / max(1, p.table_count))
        self.run_step.bar.setValue(min(100, value))
        self.run_step.bar.setFormat(f"%p%  ·  {p.table}  {p.rows_done}/{p.rows_total}")

    def _move_failed(self, error: Exception, overwrite: bool) -> None:
        if isinstance(error, Conflict) and not overwrite and self.result_ is not None:
            replace = self.ctx.dialogs.confirm(
                self, "Replace the data in MySQL?",
                f"The database {self.result_.database} on {self.result_.host} already holds data.\n\n"
                f"{error.message}\n\nReplace its data with WearSync's current data? What is in "
                f"{self.result_.database} now will be deleted. WearSync's current data is not changed.",
                ok_label="Replace its data", danger=True)
            if replace:
                self.run_step.say("Replacing the data in MySQL…")
                self._move(True)
                return
            self._failed(Conflict("Nothing was copied and WearSync stays on its current database. Choose another "
                                  "database name (Back), or run again and confirm that its data may be replaced."))
            return
        self._failed(error)

    def _moved(self, report: MoveReport) -> None:
        self.report = report
        self.run_step.bar.setValue(100)
        self.run_step.bar.setFormat("%p%  ·  copied and checked")
        self.run_step.say(f"Copied {report.rows_copied} rows; every table's row count and checksum match.")
        self.run_step.show_report(report)
        self._switch()

    def _switch(self) -> None:
        assert self.result_ is not None
        self.run_step.say("Switching WearSync to the new database…")
        self.ctx.bridge.submit(dbs.switch_app_to_mysql, self.ctx.app, self.result_, self.ctx.session.actor,
                               self.report, on_result=self._switched, on_error=self._failed, context=self)

    def _switched(self, _path: object) -> None:
        assert self.result_ is not None
        self.running = False
        self.switched = True
        r = self.result_
        self.run_step.heading.setText("Done — WearSync is set up on MySQL")
        self.run_step.banner.show_message(
            f"WearSync will use the database {r.database} on {r.host}:{r.port} with the account {r.writer_user}, "
            f"which cannot change or delete the audit trail. Grafana reads the measurements with the account "
            f"{r.reader_user}. Table changes at upgrades are made by {r.owner_user}. The passwords are kept in the "
            "password store; the owner's is kept apart and is not shown on the Secrets page.\n\n"
            "WearSync restarts now to use the new database.", "info")
        self._show_step(2)

    def _failed(self, error: Exception) -> None:
        self.running = False
        if self.background_stopped:
            self.background_stopped = False
            self.ctx.bridge.submit(self.ctx.app.start_background, on_error=lambda _e: None)
        self.run_step.heading.setText("Not finished")
        self.run_step.bar.hide()
        self.run_step.banner.show_message(plain(error) + "\n\nWearSync still uses its current database.", "error")
        self._show_step(2)

    # -- closing ---------------------------------------------------------------------------
    def reject(self) -> None:
        if self.running:
            return  # a copy in progress finishes or fails; it is never left half-done
        if self.switched:
            self.accept()
            return
        super().reject()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.running:
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            event.ignore()
            return
        super().closeEvent(event)

    def _on_finished(self, _code: int) -> None:
        if self.switched:
            self.ctx.restart()
