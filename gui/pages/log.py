"""Log: the tail of WearSync's rotating log file, refreshed as it grows, filtered by level."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QTimer
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QCheckBox, QComboBox, QPlainTextEdit, QWidget

from gui.context import PageContext
from gui.pages.base import Page
from gui.widgets import button, label, open_or_show

TAIL_BYTES = 256_000
RELOAD_MS = 250  # a burst of log writes (a sync writes several lines a second) reloads the view once
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FILTERS = (("Everything", "DEBUG"), ("Information and above", "INFO"), ("Warnings and errors", "WARNING"),
           ("Errors only", "ERROR"))
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (\w+)\s+([\w.]+)?")
OWN = ("services", "gui", "db", "main", "__main__", "wearsync", "bootstrap")  # WearSync's own loggers


def filter_lines(text: str, minimum: str, own_only: bool = False) -> list[str]:
    """Records at `minimum` level or above (with `own_only`: from WearSync itself, not from the
    libraries it uses); a traceback line belongs to the record before it."""
    floor = LEVELS.index(minimum)
    keep = False
    out = []
    for line in text.splitlines():
        m = _RECORD.match(line)
        if m:
            level = m.group(1)
            keep = level in LEVELS and LEVELS.index(level) >= floor
            if own_only and keep:
                keep = (m.group(2) or "").split(".")[0] in OWN
        if keep:
            out.append(line)
    return out


def read_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - limit))
        data = fh.read()
    text = data.decode("utf-8", errors="replace")
    if size > limit:  # drop the partial first line
        text = text.split("\n", 1)[-1]
    return text


class LogPage(Page):
    key = "log"
    title = "Log"
    icon = "log"
    subtitle = "What WearSync has been doing. Tokens, passwords and secrets are never written here."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.path = ctx.log_path
        self.level = QComboBox()
        self.level.setObjectName("logLevel")
        for text, level in FILTERS:
            self.level.addItem(text, level)
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(lambda _i: self.reload(force=True))
        self.everything = QCheckBox("Include the libraries' messages")
        self.everything.setObjectName("logEverything")
        self.everything.setToolTip("Also show what the programs WearSync is built on write (database upgrades, "
                                   "the scheduler, the web server): for support.")
        self.everything.toggled.connect(lambda _on: self.reload(force=True))
        self.header.action_row.addWidget(self.everything)
        self.header.action_row.addWidget(self.level)
        self.header.action_row.addWidget(button("Open log folder", on_click=self.open_folder))
        self.view = QPlainTextEdit()
        self.view.setObjectName("LogView")
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setMaximumBlockCount(5000)
        self.layout_.addWidget(self.view, 1)
        self.where = label(f"Log file: {self.path}" if self.path else "Logging to a file is off.", "help")
        self.layout_.addWidget(self.where)
        self._seen: tuple[float, int] | None = None
        # The watcher reacts soon; the timer covers rotation and file systems without notifications.
        # Each change only arms a short single-shot timer, so a burst of writes reads the file once,
        # and a hidden page reads nothing (it reloads when shown).
        self.watcher = QFileSystemWatcher(self)
        if self.path and self.path.exists():
            self.watcher.addPath(str(self.path))
        self.soon = QTimer(self)
        self.soon.setSingleShot(True)
        self.soon.setInterval(RELOAD_MS)
        self.soon.timeout.connect(self._changed)
        self.watcher.fileChanged.connect(lambda _p: self.soon.start() if not self.soon.isActive() else None)
        self.timer = QTimer(self)
        self.timer.setInterval(2000)
        self.timer.timeout.connect(self.reload)

    def shown(self) -> None:
        self.reload(force=True)
        self.timer.start()

    def hideEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.timer.stop()
        self.soon.stop()
        super().hideEvent(event)

    def _changed(self) -> None:
        if self.isVisible():
            self.reload()

    def reload(self, force: bool = False) -> None:
        if self.path is None or not self.path.exists():
            self.view.setPlainText("No log yet.")
            return
        st = self.path.stat()
        # a small local file read only when it changed: cheap enough for the UI thread
        if not force and self._seen == (st.st_mtime, st.st_size):
            return
        self._seen = (st.st_mtime, st.st_size)
        if str(self.path) not in self.watcher.files():
            self.watcher.addPath(str(self.path))
        lines = filter_lines(read_tail(self.path), str(self.level.currentData()),
                             own_only=not self.everything.isChecked())
        at_bottom = self.view.verticalScrollBar().value() >= self.view.verticalScrollBar().maximum() - 4
        self.view.setPlainText("\n".join(lines) if lines else "Nothing at this level yet.")
        if at_bottom or force:
            self.view.moveCursor(QTextCursor.MoveOperation.End)

    def open_folder(self) -> None:
        if self.path is not None:
            self.folder_dialog = open_or_show(self, str(self.path.parent), folder=True)
