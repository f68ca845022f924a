"""The "Try with sandbox vendors" box of the Settings page: explains sandbox mode and starts it as a
second WearSync window (its own data directory), so the real one keeps running untouched."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QWidget

from gui.context import PageContext
from gui.sandbox import launch_sandbox
from gui.widgets import Card, button, label

EXPLAIN = ("WearSync opens a second window that talks to simulated Fitbit, Withings and Polar services, with five "
           "demo patients already connected and a week of their data. Try connecting, enrolment links, downloads "
           "and exports there without vendor accounts. Your real patients, data and passwords are not touched: "
           "the sandbox keeps its own database in a separate folder. Close that window when you are done.")


class SandboxBox(Card):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None,
                 launcher: Callable[[], bool] = launch_sandbox) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.launcher = launcher
        self.body.addWidget(label("Sandbox vendors", "section"))
        row = QHBoxLayout()
        if ctx.sandbox:
            text = ("This window is the sandbox: the vendors are simulated and every patient is a demo. Open "
                    "WearSync normally for your real patients.")
        else:
            text = "Try the whole workflow with simulated vendors and demo patients, next to your real data."
        self.text = label(text, "help", wrap=True)
        row.addWidget(self.text, 1)
        self.try_button = button("Try with sandbox vendors…", "play", on_click=self.try_sandbox)
        self.try_button.setObjectName("trySandbox")
        if ctx.sandbox:  # never setVisible(True) here: the box has no parent yet, so that would open a window
            self.try_button.hide()
        row.addWidget(self.try_button)
        self.body.addLayout(row)
        self.status = label("", "muted", wrap=True)
        self.status.hide()
        self.body.addWidget(self.status)

    def try_sandbox(self) -> None:
        if not self.ctx.dialogs.confirm(self, "Try WearSync with sandbox vendors?", EXPLAIN, "Open the sandbox"):
            return
        if self.launcher():
            self.status.setText("The sandbox window is opening (it takes a few seconds). It says SANDBOX at the top.")
        else:
            self.status.setText("The sandbox could not be started. Run WearSync with --sandbox from a terminal to "
                                "see why.")
        self.status.show()
