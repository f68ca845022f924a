"""Connecting a patient's vendor accounts: choose how (after Add patient), "Connect here" with a
waiting window, and the enrolment link with its QR code.

Every service call runs through the bridge; waiting for the consent callback blocks a worker
thread, never the UI thread, and Cancel (or quitting) ends that wait within a fraction of a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QCoreApplication, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui import theme
from gui.context import PageContext
from gui.errors import advice_for
from gui.format import now_utc, vendor_label, when
from gui.widgets import Badge, Banner, button, label
from services.connect.service import DEFAULT_WAIT_S, ConnectFailed, ConnectOutcome, EnrolmentLinkInfo, PendingConnect

OpenUrl = Callable[[str], object]


def open_in_browser(url: str) -> bool:
    return bool(QDesktopServices.openUrl(QUrl(url)))


def missing_words(labels: tuple[str, ...]) -> str:
    """("heart rate", "sleep") -> "Heart rate and sleep were not shared; ask the patient to ..."."""
    if not labels:
        return ""
    names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    verb = "was" if len(labels) == 1 else "were"
    return (f"{names[:1].upper()}{names[1:]} {verb} not shared; ask the patient to reconnect and tick every box. "
            "The rest will be downloaded.")


def copy_field(text: str, name: str) -> tuple[QLineEdit, QPushButton]:
    """A read-only address the user can select, and a Copy button that says it worked."""
    field = QLineEdit(text)
    field.setReadOnly(True)
    field.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # opening the dialog must not select the whole address
    field.setObjectName(name)
    field.setProperty("role", "mono")
    field.setCursorPosition(0)
    copy = button("Copy", "copy")
    copy.setObjectName(name + "Copy")

    def do_copy() -> None:
        QGuiApplication.clipboard().setText(field.text())
        copy.setText("Copied")

    copy.clicked.connect(do_copy)
    return field, copy


class ConnectWaitDialog(QDialog):
    """Begin the consent, open the browser, wait for the callback, then say what happened."""

    connected = Signal(ConnectOutcome)
    finished_outcome = Signal(object)  # ConnectOutcome or the Exception

    def __init__(self, ctx: PageContext, patient_code: str, vendor: str, *, open_url: OpenUrl = open_in_browser,
                 timeout: float = DEFAULT_WAIT_S, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_code, self.vendor = patient_code, vendor
        self.open_url = open_url
        self.timeout = timeout
        self.cancel_event = threading.Event()
        self.pending: PendingConnect | None = None
        self.outcome: ConnectOutcome | None = None
        name = vendor_label(vendor)
        self.setWindowTitle(f"Connect {name} — {patient_code}")
        self.setModal(True)
        self.setMinimumWidth(560)
        col = QVBoxLayout(self)
        col.setContentsMargins(22, 20, 22, 18)
        col.setSpacing(10)
        col.addWidget(label(f"Connect {name} for patient {patient_code}", "title", wrap=True))
        self.state = label("Preparing the consent page…", wrap=True)
        self.state.setObjectName("connectState")
        col.addWidget(self.state)
        self.url_box = QWidget()
        url_col = QVBoxLayout(self.url_box)
        url_col.setContentsMargins(0, 4, 0, 0)
        url_col.setSpacing(4)
        url_col.addWidget(label("If the browser did not open, copy this address into it:", "help"))
        row = QHBoxLayout()
        self.url, self.copy_button = copy_field("", "connectUrl")
        row.addWidget(self.url, 1)
        row.addWidget(self.copy_button)
        self.reopen_button = button("Open again", on_click=lambda: self._open_browser())
        row.addWidget(self.reopen_button)
        url_col.addLayout(row)
        self.url_box.hide()
        col.addWidget(self.url_box)
        self.warning = Banner("warning")
        self.warning.setObjectName("connectWarning")
        self.warning.action_clicked.connect(self._to_tunnel)
        col.addWidget(self.warning)
        self.result_bar = Banner("info")
        self.result_bar.setObjectName("connectResult")
        self.result_bar.action_clicked.connect(self._to_settings)
        col.addWidget(self.result_bar)
        col.addStretch(1)
        self.buttons = QDialogButtonBox()
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("connectCancel")
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.setObjectName("connectClose")
        self.close_button.hide()
        self.buttons.rejected.connect(self.reject)
        col.addWidget(self.buttons)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.cancel_event.set)

    # -- the flow ---------------------------------------------------------------------------
    def start(self) -> None:
        self.ctx.bridge.submit(self._begin, on_result=self._begun, on_error=self._failed, context=self)

    def _begin(self) -> PendingConnect:  # worker thread
        conns = self.ctx.app.connections
        if conns.listener is None or not conns.listener.running:
            if conns.listener_error is not None:
                raise conns.listener_error
            raise ConnectFailed("WearSync is still starting its sign-in listener. Try again in a moment.")
        return conns.begin(self.patient_code, self.vendor, self.ctx.session.actor)

    def _begun(self, pending: PendingConnect) -> None:
        self.pending = pending
        self.url.setText(pending.authorize_url)
        self.url.setCursorPosition(0)
        self.url_box.show()
        if pending.warning:
            self.warning.show_message(pending.warning, "warning", "Open Tunnel page")
        self.state.setText(f"The {vendor_label(self.vendor)} consent page is open in your browser. Ask the patient "
                           "to sign in and allow access. This window updates by itself when they are done.")
        self._open_browser()
        self.adjustSize()
        self.ctx.bridge.submit(self.ctx.app.connections.wait, pending, self.timeout, self.cancel_event,
                               on_result=self._answered, on_error=self._failed, context=self)

    def _open_browser(self) -> None:
        if self.pending is not None and not self.open_url(self.pending.authorize_url):
            self.state.setText("The browser could not be opened. Copy the address below into a browser on this "
                               "computer; this window updates by itself when the patient is done.")

    def _answered(self, outcome: ConnectOutcome) -> None:
        self.outcome = outcome
        self._done()
        name = vendor_label(self.vendor)
        if outcome.ok:
            text = f"Connected. {name} data for patient {self.patient_code} will be downloaded."
            missing = missing_words(outcome.scopes_missing)
            if missing:
                self.result_bar.show_message(f"{text} {missing}", "warning")
            else:
                self.result_bar.show_message(text, "info")
                self.result_bar.icon.setPixmap(theme.icon("check", "#166534").pixmap(18, 18))
            self.state.setText(f"{name} is connected for patient {self.patient_code}.")
            self.connected.emit(outcome)
        else:
            self.state.setText("Not connected.")
            self.result_bar.show_message(outcome.message, "error")
        self.adjustSize()
        self.finished_outcome.emit(outcome)

    def _failed(self, error: Exception) -> None:
        self._done()
        if self.cancel_event.is_set():
            return
        advice = advice_for(error)
        self.state.setText("Not connected.")
        self.result_bar.show_message(advice.message, "error",
                                 advice.action_label if advice.action == "settings" else None)
        self.adjustSize()
        self.finished_outcome.emit(error)

    def _done(self) -> None:
        self.cancel_button.hide()
        self.close_button.show()
        self.close_button.setDefault(True)
        self.reopen_button.setEnabled(False)

    def _to_tunnel(self) -> None:
        self.reject()
        self.ctx.navigate("tunnel")

    def _to_settings(self) -> None:
        self.reject()
        parent = self.parentWidget()
        if isinstance(parent, QDialog):  # the "connect this patient" choice under it: Settings comes first
            parent.reject()
        self.ctx.navigate("settings")

    def reject(self) -> None:
        self.cancel_event.set()  # the worker's wait ends at once; nothing is stored
        super().reject()


class EnrolmentLinkDialog(QDialog):
    """Create an enrolment link and show it as text and QR code, with its expiry."""

    def __init__(self, ctx: PageContext, patient_code: str, vendor: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_code, self.vendor = patient_code, vendor
        self.info: EnrolmentLinkInfo | None = None
        name = vendor_label(vendor)
        self.setWindowTitle(f"Enrolment link — {patient_code}")
        self.setModal(True)
        self.setMinimumWidth(600)
        col = QVBoxLayout(self)
        col.setContentsMargins(22, 20, 22, 18)
        col.setSpacing(12)
        col.addWidget(label(f"Send this link to patient {patient_code}", "title", wrap=True))
        col.addWidget(label(f"The patient opens it on their phone (or scans the code), signs in to {name} and "
                            "allows access. WearSync connects the account by itself; the link works once.",
                            "muted", wrap=True))
        self.warning = Banner("warning")
        self.warning.setObjectName("tunnelWarning")
        self.warning.action_clicked.connect(self._to_tunnel)
        col.addWidget(self.warning)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(8)
        self.qr = QLabel()
        self.qr.setObjectName("enrolQr")
        self.qr.setFixedSize(196, 196)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setStyleSheet("QLabel { background: white; border: 1px solid #e5e7eb; border-radius: 8px; }")
        grid.addWidget(self.qr, 0, 0, 4, 1)
        grid.addWidget(label("Link", "section"), 0, 1)
        row = QHBoxLayout()
        self.url, self.copy_button = copy_field("", "enrolUrl")
        self.copy_button.setText("Copy link")
        row.addWidget(self.url, 1)
        row.addWidget(self.copy_button)
        grid.addLayout(row, 1, 1)
        self.expiry = label("Creating the link…", "muted", wrap=True)
        self.expiry.setObjectName("enrolExpiry")
        grid.addWidget(self.expiry, 2, 1)
        grid.setRowStretch(3, 1)
        grid.setColumnStretch(1, 1)
        col.addLayout(grid)
        self.error = label("", "error", wrap=True)
        self.error.hide()
        col.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)

    def start(self) -> None:
        self.ctx.bridge.submit(self._create, on_result=self._created, on_error=self._failed, context=self)

    def _create(self) -> tuple[EnrolmentLinkInfo, bytes]:  # worker thread
        info = self.ctx.app.connections.create_enrolment_link(self.patient_code, self.vendor, self.ctx.session.actor)
        return info, info.qr_png(scale=5)

    def _created(self, made: tuple[EnrolmentLinkInfo, bytes]) -> None:
        info, png = made
        self.info = info
        self.url.setText(info.url)
        self.url.setCursorPosition(0)
        if info.reachable_from_phone:
            pix = QPixmap()
            pix.loadFromData(png, "PNG")
            self.qr.setPixmap(pix.scaled(180, 180, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.FastTransformation))  # crisp modules
        else:  # a phone cannot open a link to this computer: a code to scan would only mislead
            self.qr.setWordWrap(True)
            self.qr.setText("No QR code yet: a phone can open this link only once the tunnel runs.")
        hours = round((info.expires_at - now_utc()).total_seconds() / 3600)
        self.expiry.setText(f"Valid until {when(info.expires_at)} (about {hours} hours). After that, or once "
                            "used, send a new link.")
        if not info.reachable_from_phone:
            self.warning.show_message("Start the tunnel first so the patient's phone can reach WearSync. Right "
                                      "now this link only works on this computer.", "warning", "Open Tunnel page")
        self.adjustSize()

    def _failed(self, error: Exception) -> None:
        self.expiry.setText("")
        self.error.setText(advice_for(error).message)
        self.error.show()

    def _to_tunnel(self) -> None:
        self.accept()
        self.ctx.navigate("tunnel")


class ConnectChoiceDialog(QDialog):
    """After Add patient: for each device type, connect here or send an enrolment link (or later)."""

    connect_here = Signal(str)  # vendor
    send_link = Signal(str)

    def __init__(self, patient_code: str, vendors: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.patient_code = patient_code
        self.setWindowTitle(f"Connect {patient_code}")
        self.setModal(True)
        self.setMinimumWidth(640)
        col = QVBoxLayout(self)
        col.setContentsMargins(22, 20, 22, 18)
        col.setSpacing(10)
        col.addWidget(label(f"Connect {patient_code}'s accounts", "title", wrap=True))
        col.addWidget(label(f"Patient {patient_code} was added. Connect here when the patient is with you: the "
                            "vendor's consent page opens in this computer's browser. Otherwise send an enrolment "
                            "link they open on their own phone. You can also do this later from the patient's "
                            "side panel.", "muted", wrap=True))
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(8)
        self.badges: dict[str, Badge] = {}
        self.buttons_by_vendor: dict[str, tuple[QPushButton, QPushButton]] = {}
        for i, v in enumerate(vendors):
            grid.addWidget(label(vendor_label(v), "section"), i, 0)
            badge = Badge("not_connected")
            badge.setObjectName(f"choiceBadge_{v}")
            self.badges[v] = badge
            grid.addWidget(badge, i, 1, Qt.AlignmentFlag.AlignLeft)
            here = button("Connect here", "play", primary=True, on_click=partial(self.connect_here.emit, v))
            here.setObjectName(f"choiceConnect_{v}")
            link = button("Send enrolment link", "copy", on_click=partial(self.send_link.emit, v))
            link.setObjectName(f"choiceLink_{v}")
            self.buttons_by_vendor[v] = (here, link)
            grid.addWidget(here, i, 2)
            grid.addWidget(link, i, 3)
        grid.setColumnStretch(1, 1)
        col.addLayout(grid)
        col.addSpacing(6)
        buttons = QDialogButtonBox()
        self.done_button = buttons.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        self.done_button.setObjectName("choiceDone")
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)

    def mark(self, outcome: ConnectOutcome) -> None:
        if outcome.patient_code != self.patient_code or outcome.vendor not in self.badges:
            return
        if outcome.ok:
            self.badges[outcome.vendor].set_status("connected")
            here, _link = self.buttons_by_vendor[outcome.vendor]
            here.setText("Connect again")
        if all(b.status == "connected" for b in self.badges.values()):
            self.done_button.setText("Done")
