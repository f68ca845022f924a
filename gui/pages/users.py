"""Keys & Users: who may use WearSync and the registration keys that let a colleague sign up.
Accounts and keys arrive with issue 6; this page already says who is acting and what will be here."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from gui.context import PageContext
from gui.pages.base import Page
from gui.widgets import Badge, Card, label

ROLE_NAMES = {"admin": "Administrator", "coordinator": "Coordinator", "viewer": "Viewer"}


class UsersPage(Page):
    key = "users"
    title = "Keys & Users"
    icon = "keys"
    subtitle = "Who may open WearSync, with which role, and the keys that let a colleague register."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        me = Card()
        me.body.addWidget(label("You", "section"))
        self.me_text = label("", wrap=True)
        self.me_text.setObjectName("currentUser")
        self.role_badge = Badge("connected")
        me.body.addWidget(self.me_text)
        me.body.addWidget(self.role_badge)
        self.layout_.addWidget(me)

        self.accounts = Card()
        self.accounts.body.addWidget(label("User accounts and registration keys", "section"))
        self.accounts_text = label("", "muted", wrap=True)
        self.accounts_text.setObjectName("accountsText")
        self.accounts.body.addWidget(self.accounts_text)
        self.layout_.addWidget(self.accounts)
        self.layout_.addStretch(1)
        self.apply_permissions()

    def apply_permissions(self) -> None:
        actor = self.ctx.session.actor
        self.me_text.setText(
            f"You are using WearSync as {actor.username!s}. Until personal accounts are set up, the "
            "window acts as the owner of this computer, and every change is recorded in the audit trail "
            "as made from this computer.")
        self.role_badge.set_status("connected" if actor.role == "admin" else "not_connected",
                                   ROLE_NAMES.get(actor.role, actor.role))
        if actor.can("users"):
            self.accounts_text.setText(
                "Personal sign-in is not set up in this version yet. When it is, this page lists every "
                "account (administrator, coordinator or viewer), lets you reset a password or unlock an "
                "account, and creates one-time registration keys to give to a new colleague.")
        else:
            self.accounts_text.setText("Only administrators manage accounts and registration keys. Ask an "
                                       "administrator if you need a different role.")
