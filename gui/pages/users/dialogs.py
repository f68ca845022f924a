"""Dialogs of the Keys & Users page: add a user, change a role, generate a key, and the window
that shows a temporary password or a new key once, with a copy button."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.pages.patients.dialogs import _ServiceDialog
from gui.pages.users.common import ROLE_HELP, ROLE_NAMES
from gui.widgets import button, fix_width, label
from services.accounts.actor import ROLES
from services.accounts.keys import MAX_HOURS, NewKey
from services.accounts.passwords import temporary_password


def role_combo(current: str = "coordinator") -> QComboBox:
    combo = QComboBox()
    combo.setObjectName("roleCombo")
    for role in ROLES:
        combo.addItem(f"{ROLE_NAMES[role]} — {ROLE_HELP[role]}", role)
    combo.setCurrentIndex(ROLES.index(current) if current in ROLES else 1)
    return combo


class OneTimeSecretDialog(QDialog):
    """Shows a value once (a temporary password, a registration key) with a copy button."""

    def __init__(self, title: str, intro: str, value: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("oneTimeSecret")
        self.setMinimumWidth(480)
        col = QVBoxLayout(self)
        col.setContentsMargins(22, 20, 22, 18)
        col.setSpacing(10)
        col.addWidget(label(title, "section"))
        col.addWidget(label(intro, wrap=True))
        row = QHBoxLayout()
        self.value = QLineEdit(value)
        self.value.setObjectName("secretValue")
        self.value.setReadOnly(True)
        self.value.setStyleSheet('font-family: "DejaVu Sans Mono", monospace; font-size: 12pt; padding: 8px;')
        # wide enough for the whole value, which starts at its first character
        self.value.ensurePolished()  # the monospace font of its style sheet, measured
        self.value.setMinimumWidth(self.value.fontMetrics().horizontalAdvance(value) + 40)
        self.value.setCursorPosition(0)
        row.addWidget(self.value, 1)
        self.copy_button = button("Copy", "copy", primary=True, on_click=self.copy)
        self.copy_button.setObjectName("copyButton")
        fix_width(self.copy_button, "Copy", "Copied")  # the label changes, the row does not move
        row.addWidget(self.copy_button)
        col.addLayout(row)
        note = label("It is not shown again: copy it now. WearSync keeps only a scrambled form.", "help", wrap=True)
        col.addWidget(note)
        close = QHBoxLayout()
        close.addStretch(1)
        close.addWidget(button("Close", on_click=self.accept))
        col.addLayout(close)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.value.text())
        self.copy_button.setText("Copied")
        self.value.setCursorPosition(0)  # never scrolled to the end, its first character cut off

    def done(self, result: int) -> None:  # closing forgets the value
        self.value.clear()
        super().done(result)


class AddUserDialog(_ServiceDialog):
    added = Signal(str, str)  # username, temporary password

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Add user", "Add user", parent)
        self.body.addWidget(label("Username", "section"))
        self.username = QLineEdit()
        self.username.setObjectName("newUsername")
        self.username.setPlaceholderText("for example anna.smith")
        self.username.textEdited.connect(lambda _t: self.clear_error(self.username))
        self.body.addWidget(self.username)
        self.body.addWidget(label("Role", "section"))
        self.role = role_combo()
        self.body.addWidget(self.role)
        self.body.addWidget(label("Temporary password", "section"))
        self.password = QLineEdit(temporary_password())
        self.password.setObjectName("temporaryPassword")
        self.body.addWidget(self.password)
        self.body.addWidget(label("Give this password to the person. They choose their own the first time they "
                                  "sign in. Or use a registration key instead, and they pick their own from the "
                                  "start.", "help", wrap=True))
        self.finish_layout()

    def primary_field(self) -> QLineEdit | None:
        return self.username

    def submit(self) -> None:
        name, role, pw = self.username.text(), str(self.role.currentData()), self.password.text()
        actor = self.ctx.session.actor
        self.run(lambda: self.ctx.app.accounts.add_user(name, role, pw, actor, must_change_password=True))

    def on_done(self, result: object) -> None:
        self.added.emit(getattr(result, "username", self.username.text()), self.password.text())
        super().on_done(result)


class ChangeRoleDialog(_ServiceDialog):
    changed = Signal()

    def __init__(self, ctx: PageContext, username: str, role: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, f"Change the role of {username}", "Change role", parent)
        self.username = username
        self.body.addWidget(label(f"What may {username} do?", "section"))
        self.role = role_combo(role)
        self.body.addWidget(self.role)
        self.body.addWidget(label("The change applies the next time they sign in or unlock.", "help", wrap=True))
        self.finish_layout()

    def submit(self) -> None:
        self.run(self.ctx.app.accounts.set_role, self.username, str(self.role.currentData()),
                 self.ctx.session.actor)

    def on_done(self, result: object) -> None:
        self.changed.emit()
        super().on_done(result)


class GenerateKeyDialog(_ServiceDialog):
    generated = Signal(NewKey)

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Generate registration key", "Generate key", parent)
        self.body.addWidget(label("The new colleague's role", "section"))
        self.role = role_combo()
        self.body.addWidget(self.role)
        self.body.addWidget(label("Valid", "section"))
        self.until_reset = QRadioButton("Until tonight's reset (midnight on this computer)")
        self.until_reset.setObjectName("untilReset")
        self.until_reset.setChecked(True)
        self.for_hours = QRadioButton("For")
        self.for_hours.setObjectName("forHours")
        self.hours = QSpinBox()
        self.hours.setObjectName("hours")
        self.hours.setRange(1, MAX_HOURS)
        self.hours.setValue(24)
        self.hours.setSuffix(" hours")
        self.hours.valueChanged.connect(lambda _v: self.for_hours.setChecked(True))
        group = QButtonGroup(self)
        group.addButton(self.until_reset)
        group.addButton(self.for_hours)
        self.body.addWidget(self.until_reset)
        row = QHBoxLayout()
        row.addWidget(self.for_hours)
        row.addWidget(self.hours)
        row.addStretch(1)
        self.body.addLayout(row)
        self.body.addWidget(label("A key works once. Unused keys vanish after they expire.", "help", wrap=True))
        self.finish_layout()

    def submit(self) -> None:
        hours = None if self.until_reset.isChecked() else self.hours.value()
        self.run(self.ctx.app.keys.generate, self.ctx.session.actor, str(self.role.currentData()), hours)

    def on_done(self, result: object) -> None:
        assert isinstance(result, NewKey)
        self.generated.emit(result)
        super().on_done(result)
