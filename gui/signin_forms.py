"""The forms of the sign-in screen: first administrator, sign in, register with a key, change
password (forced after a reset, or from the account menu) and unlock after the idle lock.

Each form checks on a worker thread (argon2 takes a fraction of a second), keeps its button
disabled meanwhile, shows the service's own message under the fields when refused, and emits
`done` with what the gate needs next. No password is kept after a form is cleared.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.errors import advice_for
from gui.widgets import button, label, repolish
from services.accounts.actor import Actor
from services.accounts.passwords import password_problem
from services.accounts.service import AccountService

ROLE_NAMES = {"admin": "Administrator", "coordinator": "Coordinator", "viewer": "Viewer"}


@dataclass(frozen=True)
class SignedIn:
    """What a successful sign-in hands the gate."""

    actor: Actor
    must_change_password: bool
    password: str = ""  # only to spare a forced change from asking for it twice; dropped at once


def sign_in(accounts: AccountService, username: str, password: str) -> SignedIn:
    """Worker side of the sign-in button."""
    actor = accounts.authenticate(username, password)
    must = accounts.get_user(actor.username, actor).must_change_password
    return SignedIn(actor, must, password if must else "")


def create_first_admin(accounts: AccountService, username: str, password: str) -> SignedIn:
    return SignedIn(accounts.create_first_admin(username, password), False)


def register(accounts: AccountService, key: str, username: str, password: str) -> SignedIn:
    return SignedIn(accounts.register(key, username, password), False)


def password_edit(name: str, placeholder: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setPlaceholderText(placeholder)
    edit.setMaxLength(300)
    return edit


class NewPassword(QWidget):
    """Password twice, with the rule checked while typing, in plain words."""

    def __init__(self, username_source: QLineEdit | None = None, username: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._username_source = username_source
        self.username = username
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(6)
        self.first = password_edit("newPassword", "New password")
        self.second = password_edit("repeatPassword", "The same password again")
        col.addWidget(self.first)
        col.addWidget(self.second)
        self.feedback = label("", "help", wrap=True)
        self.feedback.setObjectName("passwordFeedback")
        col.addWidget(self.feedback)
        for edit in (self.first, self.second):
            edit.textChanged.connect(lambda _t: self.update_feedback())
        if username_source is not None:
            username_source.textChanged.connect(lambda _t: self.update_feedback())
        self.update_feedback()

    def _name(self) -> str:
        return self._username_source.text() if self._username_source is not None else self.username

    def problem(self) -> str | None:
        """What keeps the pair from being accepted, or None."""
        pw = self.first.text()
        problem = password_problem(pw, self._name())
        if problem is not None:
            return problem
        if self.second.text() != pw:
            return "The two passwords differ. Type the same password in both boxes."
        return None

    def update_feedback(self) -> None:
        pw = self.first.text()
        if not pw:
            self.feedback.setText("Use at least 12 characters. Length matters more than symbols: a few "
                                  "unrelated words with spaces make a strong password that is easy to type.")
            self.feedback.setProperty("role", "help")
        else:
            problem = password_problem(pw, self._name())
            if problem is None and self.second.text() and self.second.text() != pw:
                problem = "The two passwords differ."
            self.feedback.setText(problem or "✓ This password is fine.")
            self.feedback.setProperty("role", "warn" if problem else "ok")
        repolish(self.feedback)

    def clear(self) -> None:
        self.first.clear()
        self.second.clear()


class Form(QWidget):
    """Title, explanation, fields, an inline error, the main button and optional links below."""

    done = Signal(object)

    def __init__(self, ctx: PageContext, title: str, text: str, action: str, name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName(name)
        self.col = QVBoxLayout(self)
        self.col.setContentsMargins(0, 0, 0, 0)
        self.col.setSpacing(10)
        self.title = label(title, "title")
        self.text = label(text, "muted", wrap=True)
        self.col.addWidget(self.title)
        self.col.addWidget(self.text)
        self.col.addSpacing(4)
        self.fields = QFormLayout()
        self.fields.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.fields.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.fields.setVerticalSpacing(6)
        self.col.addLayout(self.fields)
        self.error = label("", "error", wrap=True)
        self.error.setObjectName("signinError")
        self.error.hide()
        self.col.addWidget(self.error)
        self.submit_button = button(action, primary=True, on_click=self.submit)
        self.submit_button.setObjectName("submitButton")
        self.submit_button.setDefault(True)
        self.col.addWidget(self.submit_button)
        self.links = QHBoxLayout()
        self.links.setSpacing(4)
        self.col.addLayout(self.links)
        self.busy = False
        self.new_password: NewPassword | None = None

    def add_new_password(self, caption: str, widget: NewPassword) -> None:
        """The new-password pair: its live feedback and the red error are one message at a time (the error
        replaces the feedback line, not repeats it), and editing either box clears a stale error."""
        self.fields.addRow(label(caption, "section"), widget)
        self.new_password = widget
        for edit in (widget.first, widget.second):
            edit.returnPressed.connect(self.enter_pressed)
            edit.textChanged.connect(lambda _t: self.clear_error())

    def add_link(self, text: str, name: str) -> QPushButton:
        link = button(text, link=True)
        link.setObjectName(name)
        link.setStyleSheet("padding-left: 0px;")  # in line with the fields above
        self.links.addWidget(link)
        return link

    def add_field(self, caption: str, widget: QWidget) -> None:
        self.fields.addRow(label(caption, "section"), widget)
        if isinstance(widget, QLineEdit):
            widget.returnPressed.connect(self.enter_pressed)
            widget.textEdited.connect(lambda _t: self.clear_error())

    def enter_pressed(self) -> None:
        """Enter moves on to the next empty field, and submits once all are filled."""
        for edit in self.findChildren(QLineEdit):
            if edit.isVisibleTo(self) and not edit.text():
                edit.setFocus()
                return
        self.submit()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        if self.new_password is not None:
            self.new_password.feedback.hide()  # it would say the same thing again

    def clear_error(self) -> None:
        self.error.hide()
        if self.new_password is not None:
            self.new_password.feedback.show()

    def run(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        """Run the check on a worker; the button stays disabled until the answer is back."""
        if self.busy:
            return
        self.busy = True
        self.clear_error()
        self.submit_button.setEnabled(False)
        task = self.ctx.bridge.submit(fn, *args, on_result=self.done.emit, on_error=self.failed, context=self)
        task.finished.connect(self._idle)

    def _idle(self) -> None:
        self.busy = False
        self.submit_button.setEnabled(True)

    def failed(self, error: Exception) -> None:
        self.show_error(advice_for(error).message)

    def submit(self) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what was typed (passwords above all)."""
        for edit in self.findChildren(QLineEdit):
            edit.clear()
        self.clear_error()

    def focus_first(self) -> None:
        for edit in self.findChildren(QLineEdit):
            if edit.isVisibleTo(self) and not edit.text():
                edit.setFocus()
                return


class FirstAdminForm(Form):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Create the first administrator",
                         "WearSync has no accounts yet. The person setting it up becomes its first "
                         "administrator and can then add colleagues. There is no default password: choose "
                         "your own.", "Create administrator and sign in", "firstAdminForm", parent)
        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.username.setPlaceholderText("for example anna.smith")
        self.add_field("Username", self.username)
        self.password = NewPassword(self.username)
        self.add_new_password("Password", self.password)

    def submit(self) -> None:
        if not self.username.text().strip():
            self.show_error("Choose a username, for example anna.smith.")
            return
        if self.password.second.text() != self.password.first.text():
            self.show_error("The two passwords differ. Type the same password in both boxes.")
            return
        # the rule itself is checked by the service, which says what to change
        self.run(create_first_admin, self.ctx.app.accounts, self.username.text(), self.password.first.text())


class SignInForm(Form):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Sign in", "Sign in with your own WearSync account.", "Sign in", "signInForm",
                         parent)
        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.add_field("Username", self.username)
        self.password = password_edit("password")
        self.add_field("Password", self.password)
        self.register_link = self.add_link("I have a registration key", "registerLink")
        self.links.addStretch(1)
        self.col.addWidget(label("Forgot your password? Ask an administrator to reset it.", "help", wrap=True))

    def submit(self) -> None:
        if not self.username.text().strip() or not self.password.text():
            self.show_error("Type your username and password.")
            return
        self.run(sign_in, self.ctx.app.accounts, self.username.text(), self.password.text())

    def failed(self, error: Exception) -> None:
        self.password.clear()
        self.password.setFocus()
        super().failed(error)


class RegisterForm(Form):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Create your account",
                         "An administrator gave you a one-time registration key. It decides your role "
                         "and works once.", "Create my account", "registerForm", parent)
        self.key = QLineEdit()
        self.key.setObjectName("registrationKey")
        self.key.setPlaceholderText("WS-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX")
        self.add_field("Registration key", self.key)
        self.username = QLineEdit()
        self.username.setObjectName("username")
        self.username.setPlaceholderText("for example anna.smith")
        self.add_field("Username", self.username)
        self.password = NewPassword(self.username)
        self.add_new_password("Password", self.password)
        self.back_link = self.add_link("Back to sign in", "backLink")
        self.links.addStretch(1)

    def submit(self) -> None:
        if not self.key.text().strip():
            self.show_error("Paste or type the registration key you were given.")
            return
        if self.password.second.text() != self.password.first.text():
            self.show_error("The two passwords differ. Type the same password in both boxes.")
            return
        self.run(register, self.ctx.app.accounts, self.key.text(), self.username.text(),
                 self.password.first.text())


class ChangePasswordForm(Form):
    """`forced`: right after signing in with a temporary password (the current one is known)."""

    def __init__(self, ctx: PageContext, forced: bool, parent: QWidget | None = None) -> None:
        text = ("An administrator set a temporary password for you. Choose your own now; only you will know it."
                if forced else "Type your current password, then the new one twice.")
        super().__init__(ctx, "Choose a new password" if forced else "Change my password", text,
                         "Save new password", "changePasswordForm", parent)
        self.forced = forced
        self.actor: Actor | None = None
        self.known_current = ""
        self.current = password_edit("currentPassword")
        self.add_field("Current password", self.current)
        if forced:
            self.fields.setRowVisible(self.current, False)
        self.password = NewPassword()
        self.add_new_password("New password", self.password)

    def prepare(self, actor: Actor, known_current: str = "") -> None:
        self.reset()
        self.actor = actor
        self.known_current = known_current
        self.password.username = actor.username
        self.fields.setRowVisible(self.current, not known_current)
        self.password.update_feedback()

    def submit(self) -> None:
        if self.actor is None:
            return
        problem = self.password.problem()
        if problem is not None:
            self.show_error(problem)
            return
        current = self.known_current or self.current.text()
        new = self.password.first.text()
        actor, accounts = self.actor, self.ctx.app.accounts

        def change() -> Actor:
            accounts.change_password(actor, current, new)
            return actor

        self.run(change)

    def reset(self) -> None:
        super().reset()
        self.known_current = ""


class UnlockForm(Form):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "WearSync is locked", "", "Unlock", "unlockForm", parent)
        self.actor: Actor | None = None
        self.password = password_edit("password")
        self.add_field("Password", self.password)
        self.switch_link = self.add_link("Sign in as someone else", "switchUserLink")
        self.links.addStretch(1)

    def prepare(self, actor: Actor, reason: str) -> None:
        self.reset()
        self.actor = actor
        self.text.setText(f"{reason} Signed in as {actor.username} ({ROLE_NAMES.get(actor.role, actor.role)}). "
                          "Type your password to continue. Scheduled downloads keep running meanwhile.")

    def submit(self) -> None:
        if self.actor is None:
            return
        if not self.password.text():
            self.show_error("Type your password.")
            return
        self.run(self.ctx.app.accounts.reauthenticate, self.actor, self.password.text())

    def failed(self, error: Exception) -> None:
        self.password.clear()
        super().failed(error)


class ChangePasswordDialog(QDialog):
    """"Change my password" from the account menu: the same form, in a small window."""

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change my password")
        self.setModal(True)
        self.setMinimumWidth(440)
        col = QVBoxLayout(self)
        col.setContentsMargins(24, 20, 24, 18)
        self.form = ChangePasswordForm(ctx, forced=False, parent=self)
        self.form.title.hide()  # the window title says it
        self.form.prepare(ctx.session.actor)
        self.form.done.connect(lambda _a: self._changed(ctx))
        col.addWidget(self.form)
        cancel = button("Cancel", on_click=self.reject)
        self.form.links.addStretch(1)
        self.form.links.addWidget(cancel)

    def _changed(self, ctx: PageContext) -> None:
        self.form.reset()
        self.accept()
        ctx.dialogs.info(self.parentWidget(), "Password changed",
                         "Your new password is saved. Use it the next time you sign in.")
