"""What every page has: the context, a header, a body with the standard margins, and hooks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.context import PageContext
from gui.widgets import PageHeader
from services.accounts.actor import PERMISSION_LABELS


class Page(QWidget):
    key = ""
    title = ""
    icon = ""
    subtitle = ""

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName(f"page_{self.key}")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(28, 24, 28, 24)
        self.layout_.setSpacing(16)
        self.header = PageHeader(self.title, self.subtitle)
        self.layout_.addWidget(self.header)
        ctx.session.changed.connect(lambda _actor: self.apply_permissions())

    def shown(self) -> None:
        """Called each time the page becomes visible: refresh what may have changed."""

    def apply_permissions(self) -> None:
        """Enable or disable what the current actor may do."""

    # -- unsaved edits: the window asks Save / Discard / Cancel before leaving a page ------------
    def has_unsaved_changes(self) -> bool:
        return False

    def save_changes(self) -> None:
        """Save what `has_unsaved_changes` saw (the page shows the outcome as its Save button does)."""

    def discard_changes(self) -> None:
        """Put the stored values back in the fields."""

    def first_focus(self) -> QWidget | None:
        """The first widget Tab would reach on this page (where a page shortcut puts the focus)."""
        w = self.nextInFocusChain()
        while w is not None and w is not self:
            if (self.isAncestorOf(w) and w.isVisibleTo(self) and w.isEnabled()
                    and w.focusPolicy() & Qt.FocusPolicy.TabFocus):
                return w
            w = w.nextInFocusChain()
        return None

    def guard(self, widget: QWidget, permission: str) -> None:
        """Disable `widget` with a tooltip saying why, when the actor lacks `permission`."""
        allowed = self.ctx.session.can(permission)
        widget.setEnabled(allowed)
        if not allowed:
            session = self.ctx.session
            if not session.signed_in or session.locked:
                widget.setToolTip("Sign in first.")
            else:
                widget.setToolTip(f"Your role ({session.actor.role}) may not "
                                  f"{PERMISSION_LABELS.get(permission, permission)}.")
        elif widget.property("tip") is not None:
            widget.setToolTip(str(widget.property("tip")))
        else:
            widget.setToolTip("")
