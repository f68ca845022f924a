"""Uncaught errors end in a dialog, never a silent exit: what happened, where the log is, and a
button to copy the details for a bug report. Installed first thing in `run_gui`."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from services.logging_setup import redact

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class CrashDialog(QDialog):
    def __init__(self, summary: str, details: str, log_path: Path | None) -> None:
        super().__init__()
        self.setWindowTitle("WearSync ran into a problem")
        self.setMinimumWidth(560)
        self.details = details
        col = QVBoxLayout(self)
        col.setContentsMargins(22, 20, 22, 18)
        col.setSpacing(10)
        head = QLabel("Something unexpected went wrong")
        head.setProperty("role", "section")
        col.addWidget(head)
        text = QLabel("WearSync hit an error it did not expect. The action you were doing may not have "
                      "finished. You can keep working, or quit and start WearSync again. If this happens "
                      "again, send the details below to whoever supports WearSync at your clinic.")
        text.setWordWrap(True)
        col.addWidget(text)
        self.summary = QLabel(summary)
        self.summary.setObjectName("crashSummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-weight: 600; color: #b91c1c;")
        col.addWidget(self.summary)
        where = f"The full details are in the log file:\n{log_path}" if log_path else "No log file is written."
        self.log_label = QLabel(where)
        self.log_label.setObjectName("crashLogPath")
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_label.setWordWrap(True)
        col.addWidget(self.log_label)
        box = QPlainTextEdit(details)
        box.setReadOnly(True)
        box.setMinimumHeight(160)
        col.addWidget(box)
        buttons = QDialogButtonBox()
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setObjectName("copyDetails")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.quit_button = buttons.addButton("Quit WearSync", QDialogButtonBox.ButtonRole.DestructiveRole)
        keep = buttons.addButton("Keep working", QDialogButtonBox.ButtonRole.AcceptRole)
        keep.setDefault(True)
        self.copy_button.clicked.connect(self.copy_details)
        self.quit_button.clicked.connect(lambda: self.done(2))
        buttons.accepted.connect(self.accept)
        col.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details)
        self.copy_button.setText("Copied")


class _Relay(QObject):
    """Carries a worker thread's uncaught error to the UI thread."""

    crashed = Signal(object)


class CrashHandler:
    def __init__(self, log_path: Path | None = None,
                 present: Callable[[CrashDialog], int] | None = None) -> None:
        self.log_path = log_path
        self.present = present or (lambda dlg: dlg.exec())
        self.dialogs: list[CrashDialog] = []
        self.on_quit: Callable[[], object] | None = None  # the shell's quit once it exists
        self._relay: _Relay | None = None
        self._showing = False

    def install(self) -> None:
        sys.excepthook = self
        threading.excepthook = self._thread_hook

    def __call__(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.critical("uncaught error", exc_info=(exc_type, exc, tb))
        summary = redact(f"{exc_type.__name__}: {exc}")[:500]
        details = redact("".join(traceback.format_exception(exc_type, exc, tb)))
        app = QApplication.instance()
        if app is None:
            try:
                app = QApplication(sys.argv[:1])
            except Exception:  # no display at all: stderr is all that is left
                sys.stderr.write(f"WearSync crashed: {summary}\nDetails: {self.log_path}\n")
                return
        if QThread.currentThread() is not app.thread():
            self._relay_to_ui((exc_type, exc, tb))
            return
        if self._showing:  # an error while the dialog is open: logged, one dialog is enough
            return
        dialog = CrashDialog(summary, details, self.log_path)
        self.dialogs.append(dialog)
        self._showing = True
        try:
            result = self.present(dialog)
        finally:
            self._showing = False
        if result == 2:
            (self.on_quit or app.quit)()

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        self(args.exc_type, args.exc_value, args.exc_traceback)

    def _relay_to_ui(self, info: ExcInfo) -> None:
        if self._relay is None:
            return
        self._relay.crashed.emit(info)

    def connect_ui(self) -> None:
        """Call once on the UI thread after the QApplication exists."""
        self._relay = _Relay()
        self._relay.crashed.connect(lambda info: self(*info), Qt.ConnectionType.QueuedConnection)
