"""After "Report…": where the PDF went, with Copy, and "open" buttons that say so when nothing opens.

A computer without a PDF viewer or file manager (a bare server, a locked-down clinic PC) still tells
the user where the report is: the path stays in view with a Copy button. The desktop is asked through
`gui.widgets.desktop_open` when that shared seam exists (issue 14), else through QDesktopServices.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from gui import widgets
from gui.widgets import button, label


def open_location(target: str) -> bool:
    """Ask the desktop to open a file or folder; False when nothing answered."""
    url = QUrl(target) if "://" in target else QUrl.fromLocalFile(target)
    opener = getattr(widgets, "desktop_open", QDesktopServices.openUrl)
    return bool(opener(url))


class LocationDialog(QDialog):
    """A path with a Copy button, and buttons that open it or its folder."""

    #: replaced in tests: called with the target, returns whether a program answered
    opener: Callable[[str], bool] = staticmethod(open_location)

    def __init__(self, title: str, text: str, target: str, opens: list[tuple[str, str]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        col = QVBoxLayout(self)
        col.setContentsMargins(20, 18, 20, 16)
        col.setSpacing(10)
        col.addWidget(label(text, wrap=True))
        row = QHBoxLayout()
        self.field = QLineEdit(target)
        self.field.setObjectName("locationField")
        self.field.setReadOnly(True)
        self.field.setCursorPosition(0)
        row.addWidget(self.field, 1)
        self.copy_button = button("Copy", "copy", on_click=self.copy)
        self.copy_button.setObjectName("copyLocation")
        row.addWidget(self.copy_button)
        col.addLayout(row)
        self.note = label("", "help", wrap=True)
        self.note.hide()
        col.addWidget(self.note)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.open_buttons: dict[str, QPushButton] = {}
        for words, where in opens or []:
            b = button(words, on_click=partial(self.open_target, where))
            self.open_buttons[words] = b
            buttons.addWidget(b)
        close = button("Close", primary=True, on_click=self.accept)
        buttons.addWidget(close)
        col.addLayout(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.field.text())
        self.field.setCursorPosition(0)
        self.note.setText("Copied.")
        self.note.show()

    def open_target(self, where: str) -> bool:
        ok = bool(type(self).opener(where))
        if not ok:
            self.field.setText(where)
            self.field.setCursorPosition(0)
            self.note.setText("No program on this computer opened it. Copy the location above and open it "
                              "yourself (for example in the file manager).")
            self.note.show()
        return ok
