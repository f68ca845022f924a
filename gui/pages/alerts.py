"""Alerts: who is e-mailed when a device stops syncing or a connection needs re-consent, a test
e-mail, and what is wrong right now. Mail problems are shown in plain words (services/alerts/mail.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QListWidget, QScrollArea, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.pages.base import Page
from gui.widgets import Banner, Card, button, label
from services.alerts.mail import PASSWORD, SENDER
from services.alerts.service import Alert, validate_email
from services.errors import WearSyncError


def load_recipients(app: object) -> tuple[list[str], bool]:
    """Worker thread: the recipients, and whether a sender account is set (without it nothing goes out)."""
    secrets = app.secrets  # type: ignore[attr-defined]
    sender_set = bool(secrets.get(SENDER)) and bool(secrets.get(PASSWORD))
    return list(app.alerts.recipients()), sender_set  # type: ignore[attr-defined]


class AlertsPage(Page):
    key = "alerts"
    title = "Alerts"
    icon = "warning"
    subtitle = "Who is e-mailed when a device stops syncing or a patient must reconnect."
    input_error: QLabel

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.sender_banner = Banner("warning")
        self.sender_banner.setObjectName("senderMissing")
        self.sender_banner.action_clicked.connect(lambda: ctx.navigate("settings"))
        self.layout_.addWidget(self.sender_banner)
        self.sender_set: bool | None = None  # not known until loaded
        self._alerts: list[Alert] | None = None  # not known until collected
        self.notice = Banner("info", closable=True)
        self.notice.setObjectName("alertsNotice")
        self.layout_.addWidget(self.notice)

        # the cards scroll (up and down) rather than squeeze when banners take room at 1024×640
        inner = QWidget()
        cards = QVBoxLayout(inner)
        cards.setContentsMargins(0, 0, 8, 0)
        cards.setSpacing(16)
        scroll = QScrollArea()
        scroll.setObjectName("alertsScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)

        card = Card()
        card.body.addWidget(label("Recipients", "section"))
        days = ctx.app.settings.get("alert_after_days")
        card.body.addWidget(label("One e-mail a day lists every new problem (devices not synced for "
                                  f"{days} days, Polar accounts with no new data for {days} days, patients "
                                  "who must reconnect, failed downloads). It is sent from the e-mail account set in "
                                  "Settings → Secrets (E-mail).",
                                  "muted", wrap=True))
        self.recipients = QListWidget()
        self.recipients.setObjectName("recipientList")
        self.recipients.setMaximumHeight(180)
        self.recipients.setMinimumHeight(90)
        card.body.addWidget(self.recipients)
        row = QHBoxLayout()
        self.address = QLineEdit()
        self.address.setObjectName("recipientInput")
        self.address.setPlaceholderText("coordinator@clinic.org")
        self.address.returnPressed.connect(self.add)
        self.address.textChanged.connect(lambda _t: self.input_error.hide())
        self.add_button = button("Add", "add", primary=True, on_click=self.add)
        self.add_button.setObjectName("addRecipientButton")
        row.addWidget(self.address, 1)
        row.addWidget(self.add_button)
        card.body.addLayout(row)
        self.input_error = label("", wrap=True)
        self.input_error.setObjectName("recipientError")
        self.input_error.setStyleSheet("color: #b91c1c;")
        self.input_error.hide()
        card.body.addWidget(self.input_error)
        actions = QHBoxLayout()
        self.remove_button = button("Remove selected", "trash", on_click=self.remove)
        self.import_button = button("Import the old address list", "import", on_click=self.import_legacy)
        self.import_button.setProperty("tip", "Add the addresses of the old system's list (EMAIL_LIST).")
        self.test_button = button("Send test e-mail", on_click=self.send_test)
        self.test_button.setObjectName("testMailButton")
        self.test_button.setProperty("tip", "Send a test message to the selected recipient, the address typed, "
                                            "or else the first one in the list.")
        for b in (self.remove_button, self.import_button, self.test_button):
            actions.addWidget(b)
        actions.addStretch(1)
        card.body.addLayout(actions)
        cards.addWidget(card)

        now = Card()
        head = QHBoxLayout()
        head.addWidget(label("Problems right now", "section"), 1)
        head.addWidget(button("Check", "refresh", on_click=self.check))
        now.body.addLayout(head)
        self.current = label("", wrap=True)
        self.current.setObjectName("currentAlerts")
        now.body.addWidget(self.current)
        cards.addWidget(now)
        cards.addStretch(1)
        self.layout_.addWidget(scroll, 1)
        self.apply_permissions()

    def apply_permissions(self) -> None:
        for b in (self.add_button, self.remove_button, self.import_button, self.test_button):
            self.guard(b, "settings")
        self.address.setEnabled(self.ctx.session.can("settings"))

    def shown(self) -> None:
        self.refresh()
        self.check()

    def refresh(self) -> None:
        self.ctx.bridge.submit(load_recipients, self.ctx.app, on_result=self._loaded, on_error=self._failed,
                               context=self)

    def _loaded(self, loaded: tuple[list[str], bool]) -> None:
        addresses, self.sender_set = loaded
        self.recipients.clear()
        self.recipients.addItems(addresses)
        if not self.sender_set:
            self.sender_banner.show_message(
                "No alert e-mail can be sent yet: the account they are sent from is not set. Enter its e-mail "
                "address and password in Settings → Secrets (E-mail).", "warning", "Open Settings")
        else:
            self.sender_banner.hide()
        self._show_current()
        if not addresses:
            self.notice.show_message("Nobody receives the alert e-mails yet. Add an address below.", "warning")

    def _removed(self, address: str) -> None:
        self.notice.show_message(f"{address} was removed.")
        self.refresh()

    def _failed(self, error: Exception) -> None:
        self.notice.show_message(getattr(error, "message", str(error)), "error")

    def add(self) -> None:
        try:
            validate_email(self.address.text())  # at once, next to the field; the service checks again
        except WearSyncError as exc:
            self.input_error.setText(exc.message)
            self.input_error.show()
            return
        self.ctx.bridge.submit(self.ctx.app.alerts.add_recipient, self.address.text(), self.ctx.session.actor,
                               on_result=self._added, on_error=self._add_failed, context=self)

    def _added(self, address: str) -> None:
        self.address.clear()
        if self.sender_set:
            self.notice.show_message(f"{address} now receives the alert e-mails.")
        else:
            self.notice.show_message(f"{address} was added. The alert e-mails start once the account they are "
                                     "sent from is set (Settings → Secrets).", "warning")
        self.refresh()

    def _add_failed(self, error: Exception) -> None:
        self.input_error.setText(getattr(error, "message", str(error)))
        self.input_error.show()

    def remove(self) -> None:
        item = self.recipients.currentItem()
        if item is None:
            self.notice.show_message("Select an address in the list first.", "warning")
            return
        address = item.text()
        if not self.ctx.dialogs.confirm(self, "Remove recipient", f"Stop sending alert e-mails to {address}?",
                                        "Remove"):
            return
        self.ctx.bridge.submit(self.ctx.app.alerts.remove_recipient, address, self.ctx.session.actor,
                               on_result=lambda _r: self._removed(address),
                               on_error=self._failed, context=self)

    def import_legacy(self) -> None:
        self.ctx.bridge.submit(self.ctx.app.alerts.import_legacy_list, self.ctx.session.actor,
                               on_result=self._imported, on_error=self._failed, context=self)

    def _imported(self, added: list[str]) -> None:
        self.notice.show_message(f"Added {len(added)} address{'es' if len(added) != 1 else ''} from the old list."
                                 if added else "The old address list held no new address (or there is none).")
        self.refresh()

    def send_test(self) -> None:
        item = self.recipients.currentItem() or self.recipients.item(0)
        to = self.address.text().strip() or (item.text() if item is not None else "")
        if not to:
            self.notice.show_message("Type an address to send the test e-mail to, or add a recipient first.",
                                     "warning")
            return
        self.test_button.setEnabled(False)
        self.notice.show_message(f"Sending a test e-mail to {to}…")
        self.ctx.bridge.submit(self.ctx.app.alerts.send_test_email, to, on_result=self._sent,
                               on_error=self._send_failed, context=self)

    def _sent(self, text: str) -> None:
        self.apply_permissions()
        self.notice.show_message(text)

    def _send_failed(self, error: Exception) -> None:
        self.apply_permissions()
        self.notice.show_message(getattr(error, "message", f"The e-mail could not be sent: {error}"), "error")

    def check(self) -> None:
        self.ctx.bridge.submit(self.ctx.app.alerts.collect, on_result=self._collected, on_error=self._failed,
                               context=self)

    def _collected(self, alerts: list[Alert]) -> None:
        self._alerts = alerts
        self._show_current()

    def _show_current(self) -> None:
        # the alerts and the sender's state load in parallel: whichever arrives second redraws this text
        alerts = self._alerts
        if alerts is None or (not alerts and self.sender_set is None):
            return
        if alerts:
            self.current.setText("\n".join(f"• {a.message}" for a in alerts))
        elif self.sender_set is False:
            self.current.setText("No patient problem right now. Alert e-mails still cannot be sent: see above.")
        else:
            self.current.setText("Nothing needs attention.")
