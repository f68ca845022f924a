"""Modal questions and messages, behind one object so tests can answer them without a human.

Pages never call QMessageBox directly: they ask `ctx.dialogs`. Tests pass a subclass whose
methods answer at once (see tests/gui/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from gui.errors import ErrorAdvice, advice_for


class Dialogs:
    def confirm(self, parent: QWidget | None, title: str, text: str, ok_label: str = "OK",
                danger: bool = False) -> bool:
        box = QMessageBox(QMessageBox.Icon.Warning if danger else QMessageBox.Icon.Question, title, text,
                          parent=parent)
        box.setTextFormat(Qt.TextFormat.PlainText)  # the text may hold a patient ID
        ok = box.addButton(ok_label, QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(cancel)  # a stray Enter never deletes anything
        box.exec()
        return box.clickedButton() is ok

    def error(self, parent: QWidget | None, error: BaseException,
              actions: dict[str, Callable[[], object]] | None = None) -> None:
        advice = advice_for(error)
        self.show_advice(parent, advice, actions or {})

    def show_advice(self, parent: QWidget | None, advice: ErrorAdvice,
                    actions: dict[str, Callable[[], object]]) -> None:
        icon = {"info": QMessageBox.Icon.Information, "critical": QMessageBox.Icon.Critical}.get(
            advice.level, QMessageBox.Icon.Warning)
        box = QMessageBox(icon, advice.title, advice.message, parent=parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        act = None
        if advice.action and advice.action in actions:
            act = box.addButton(advice.action_label, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.exec()
        if act is not None and box.clickedButton() is act and advice.action:
            actions[advice.action]()

    def info(self, parent: QWidget | None, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()

    def ask_text(self, parent: QWidget | None, title: str, label: str, secret: bool = False) -> str | None:
        mode = QLineEdit.EchoMode.Password if secret else QLineEdit.EchoMode.Normal
        # "&" would turn into a keyboard shortcut and vanish ("APIs & Services" -> "APIs  Services")
        text, ok = QInputDialog.getText(parent, title, label.replace("&", "&&"), mode)
        return text if ok else None

    def ask_close_behaviour(self, parent: QWidget | None) -> str | None:
        """Asked once, the first time the window is closed: "tray", "quit", or None (cancel)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Keep WearSync running?",
                          "WearSync can keep running in the system tray, so scheduled downloads and the "
                          "tunnel continue while the window is closed.\n\nWearSync remembers your choice; "
                          "you can change it later in Settings → General.", parent=parent)
        tray = box.addButton("Keep running in tray", QMessageBox.ButtonRole.AcceptRole)
        quit_btn = box.addButton("Quit WearSync", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(tray)
        box.exec()
        clicked = box.clickedButton()
        if clicked is tray:
            return "tray"
        if clicked is quit_btn:
            return "quit"
        return None

    def ask_unsaved(self, parent: QWidget | None, page_title: str) -> str | None:
        """Leaving a page with changes not yet saved: "save", "discard", or None (stay on the page)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Save your changes?",
                          f"You changed settings on the {page_title} page without saving them.", parent=parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        save = box.addButton(QMessageBox.StandardButton.Save)
        discard = box.addButton(QMessageBox.StandardButton.Discard)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(save)
        box.exec()
        clicked = box.clickedButton()
        if clicked is save:
            return "save"
        if clicked is discard:
            return "discard"
        return None
