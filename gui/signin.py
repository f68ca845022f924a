"""The sign-in gate: what stands between the window and its pages.

`SessionGate(ctx, window)` (built by the Shell) turns the window's central area into two layers:
the pages, and a full-window `SignInScreen`. Only one is ever shown, so nothing behind the screen
can be reached with the keyboard. The gate decides which form the screen shows:

- no account yet -> "Create the first administrator";
- signed out -> "Sign in" (with "I have a registration key" -> register);
- signed in with a temporary password -> "Choose a new password" before any page;
- idle for `idle_lock_minutes` or "Lock now" -> "WearSync is locked" (same user's password, or
  "Sign in as someone else").

Signed out or locked, `ctx.session.can()` answers no to everything, so pages and the tray disable
their actions; background work (scheduler, sync, tunnel) carries on. The account menu in the
navigation footer offers Change my password, Lock now and Sign out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui import theme
from gui.context import PageContext
from gui.idle_lock import IdleWatcher
from gui.signin_forms import (
    ROLE_NAMES,
    ChangePasswordDialog,
    ChangePasswordForm,
    FirstAdminForm,
    Form,
    RegisterForm,
    SignedIn,
    SignInForm,
    UnlockForm,
)
from gui.widgets import label
from services.accounts.actor import Actor
from services.config import VERSION

log = logging.getLogger(__name__)


class SignInScreen(QWidget):
    """A centred card holding one form at a time, on the window's background."""

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SignInScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 24, 24, 16)
        outer.addStretch(2)
        brand = QHBoxLayout()
        brand.addStretch(1)
        logo = QLabel()
        logo.setPixmap(theme.app_icon().pixmap(36, 36))
        brand.addWidget(logo)
        name = QLabel("WearSync")
        name.setObjectName("Brand")
        name.setStyleSheet("font-size: 18pt;")
        brand.addWidget(name)
        brand.addStretch(1)
        outer.addLayout(brand)
        outer.addSpacing(14)

        self.card = QFrame()
        self.card.setObjectName("SignInCard")
        self.card.setFixedWidth(460)
        body = QVBoxLayout(self.card)
        body.setContentsMargins(32, 28, 32, 24)
        self.loading = label("Checking accounts…", "muted")
        body.addWidget(self.loading)
        self.first_admin = FirstAdminForm(ctx)
        self.sign_in = SignInForm(ctx)
        self.register = RegisterForm(ctx)
        self.change_password = ChangePasswordForm(ctx, forced=True)
        self.unlock = UnlockForm(ctx)
        self.forms: list[Form] = [self.first_admin, self.sign_in, self.register, self.change_password, self.unlock]
        for form in self.forms:
            body.addWidget(form)
            form.hide()
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(3)
        foot = label(f"Version {VERSION} · Every sign-in is recorded in the audit trail.", "help")
        foot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(foot)
        self.current: Form | None = None

    def show_form(self, form: Form) -> None:
        self.loading.hide()
        for f in self.forms:
            if f is not form:
                f.reset()  # passwords typed into a form no longer shown are dropped
                f.hide()
        form.show()
        self.current = form
        form.focus_first()


class SessionGate(QObject):
    def __init__(self, ctx: PageContext, window: QMainWindow, clock: Callable[[], float] | None = None) -> None:
        super().__init__(window)
        self.ctx = ctx
        self.window = window
        self.screen = SignInScreen(ctx)
        content = window.takeCentralWidget()
        if content is None:
            raise RuntimeError("The sign-in gate needs the main window's content to be built first.")
        self.content: QWidget = content
        self.layers = QStackedWidget()
        self.layers.addWidget(self.content)
        self.layers.addWidget(self.screen)
        wrapper = QWidget()
        col = QVBoxLayout(wrapper)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        # the sandbox banner belongs above both layers: demo data must be obvious at sign-in too
        banner = self.content.findChild(QFrame, "sandboxBanner")
        if banner is not None:
            col.addWidget(banner)
        col.addWidget(self.layers, 1)
        window.setCentralWidget(wrapper)
        self.idle = IdleWatcher(clock or ctx.app.clock.timestamp, self)
        self.idle.lock_due.connect(lambda: self.lock("WearSync locked itself after a while without use."))
        self._hidden_dialogs: list[QDialog] = []
        self.account_button = self._account_button()

        s = self.screen
        s.first_admin.done.connect(self._signed_in)
        s.sign_in.done.connect(self._signed_in)
        s.register.done.connect(self._signed_in)
        s.change_password.done.connect(self.enter)
        s.unlock.done.connect(self._unlocked)
        s.sign_in.register_link.clicked.connect(lambda: s.show_form(s.register))
        s.register.back_link.clicked.connect(lambda: s.show_form(s.sign_in))
        s.unlock.switch_link.clicked.connect(self.sign_out)
        ctx.events.setting_changed.connect(self._setting_changed)
        ctx.session.changed.connect(lambda _a: self._show_account())
        self._show_account()

        if ctx.session.signed_in:
            self.enter(ctx.session.actor)
        else:
            self.show_sign_in()

    # -- what the screen shows ------------------------------------------------------------
    @property
    def gated(self) -> bool:
        return self.layers.currentWidget() is self.screen

    def show_sign_in(self) -> None:
        self.layers.setCurrentWidget(self.screen)
        self.ctx.bridge.submit(self.ctx.app.accounts.needs_first_admin, on_result=self._first_run_known,
                               on_error=self._first_run_unknown, context=self.screen)

    def _first_run_known(self, needs_admin: bool) -> None:
        if self.ctx.session.signed_in:
            return
        self.screen.show_form(self.screen.first_admin if needs_admin else self.screen.sign_in)

    def _first_run_unknown(self, error: Exception) -> None:
        self.screen.show_form(self.screen.sign_in)
        self.screen.sign_in.failed(error)

    def _signed_in(self, outcome: SignedIn) -> None:
        if outcome.must_change_password:
            self.screen.change_password.prepare(outcome.actor, outcome.password)
            self.screen.show_form(self.screen.change_password)
            return
        self.enter(outcome.actor)

    def enter(self, actor: Actor) -> None:
        """Signed in: show the pages, from the first one, and start the idle clock."""
        self.ctx.session.set_actor(actor)
        for form in self.screen.forms:
            form.reset()
        self.layers.setCurrentWidget(self.content)
        self._start_idle()
        nav = getattr(self.window, "nav", None)
        if nav is not None and nav.currentRow() != 0:
            nav.setCurrentRow(0)
        else:
            current = getattr(self.window, "current_page", None)
            if current is not None:
                current().shown()
        # the keyboard carries on in the page (its first field), not on whatever button follows the
        # hidden sign-in form in the focus chain ("My account")
        current = getattr(self.window, "current_page", None)
        target = current().first_focus() if current is not None else None
        if target is None:
            target = nav
        if target is not None:
            target.setFocus(Qt.FocusReason.OtherFocusReason)

    def _start_idle(self) -> None:
        self.idle.start(0)  # counting from now; the timeout arrives from the settings
        self.ctx.bridge.submit(self.ctx.app.settings.get, "idle_lock_minutes",
                               on_result=lambda minutes: self.idle.set_timeout(float(minutes)), context=self)

    def _setting_changed(self, key: str, value: object) -> None:
        if key == "idle_lock_minutes" and isinstance(value, int | float):
            self.idle.set_timeout(float(value))

    # -- lock, unlock, sign out -----------------------------------------------------------
    def lock(self, reason: str = "WearSync is locked.") -> None:
        if not self.ctx.session.signed_in or self.ctx.session.locked:
            return
        actor = self.ctx.session.actor
        self.idle.stop()
        self._put_dialogs_away(keep=True)
        self.ctx.session.set_locked(True)
        self.screen.unlock.prepare(actor, reason)
        self.screen.show_form(self.screen.unlock)
        self.layers.setCurrentWidget(self.screen)
        self.ctx.bridge.submit(self.ctx.app.audit.record, actor, "user.session_locked", actor.username,
                               on_error=lambda e: log.warning("recording the lock failed: %s", e))

    def _unlocked(self, actor: Actor) -> None:
        self.ctx.session.set_actor(actor)  # the role is re-read: a change made meanwhile applies
        self.screen.unlock.reset()
        self.layers.setCurrentWidget(self.content)
        self._start_idle()
        for dialog in self._hidden_dialogs:
            dialog.show()
        self._hidden_dialogs.clear()

    def sign_out(self) -> None:
        actor = self.ctx.session.actor
        self.idle.stop()
        self._put_dialogs_away(keep=False)
        self.ctx.session.sign_out()
        if actor.username:
            self.ctx.bridge.submit(self.ctx.app.audit.record, actor, "user.sign_out", actor.username,
                                   on_error=lambda e: log.warning("recording the sign-out failed: %s", e))
        self.show_sign_in()

    def _put_dialogs_away(self, keep: bool) -> None:
        """Nothing stays usable over the lock screen. A form in progress is hidden and comes back
        after the same user unlocks; a question box is answered Cancel; signing out closes all."""
        for dialog in self.window.findChildren(QDialog):
            if not dialog.isVisible():
                continue
            if keep and not isinstance(dialog, QMessageBox | QFileDialog):
                dialog.hide()
                self._hidden_dialogs.append(dialog)
            else:
                dialog.reject()
        if not keep:
            for dialog in self._hidden_dialogs:
                dialog.reject()
            self._hidden_dialogs.clear()

    # -- account menu ---------------------------------------------------------------------
    def _account_button(self) -> QPushButton:
        btn = QPushButton("Account")
        btn.setObjectName("accountButton")
        btn.setProperty("link", True)
        btn.setStyleSheet("padding-left: 0px;")  # in line with the name above it
        btn.setCursor(Qt.CursorShape.PointingHandCursor)
        menu = QMenu(btn)
        self.change_password_action = menu.addAction("Change my password…")
        self.change_password_action.triggered.connect(lambda _c=False: self.open_change_password())
        self.lock_action = menu.addAction("Lock now")
        self.lock_action.triggered.connect(lambda _c=False: self.lock("You locked WearSync."))
        menu.addSeparator()
        self.sign_out_action = menu.addAction("Sign out")
        self.sign_out_action.triggered.connect(lambda _c=False: self.sign_out())
        btn.setMenu(menu)
        footer = getattr(self.window, "nav_footer", None)
        if footer is not None:
            footer.insertWidget(footer.count() - 1, btn, 0, Qt.AlignmentFlag.AlignLeft)
        return btn

    def _show_account(self) -> None:
        actor = self.ctx.session.actor
        self.account_button.setText("My account")
        self.account_button.setToolTip(f"Signed in as {actor.username} ({ROLE_NAMES.get(actor.role, actor.role)})"
                                       if self.ctx.session.signed_in else "Signed out")
        self.account_button.setEnabled(self.ctx.session.signed_in and not self.ctx.session.locked)

    def open_change_password(self) -> QDialog:
        dlg = ChangePasswordDialog(self.ctx, self.window)
        dlg.open()
        return dlg
