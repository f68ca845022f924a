"""Tunnel: start and stop the ngrok tunnel, see its health live, copy its public addresses, and — when
the public address changed — the redirect URIs to register again in each vendor portal. Its
settings (start with WearSync, token, static domain, ngrok program, Grafana protection) are in the
card below (gui/pages/tunnel/settings.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.format import vendor_label
from gui.pages.base import Page
from gui.pages.tunnel.settings import TunnelSettingsCard
from gui.tunnel_controller import FIXED_IN_SETTINGS, tunnel_failure_text
from gui.widgets import Badge, Banner, Card, button, label
from services.reach.tunnel import TunnelStatus, vendor_portal_instructions


def copy_row(grid: QGridLayout, row: int, title: str, value: str, name: str) -> None:
    grid.addWidget(label(title, "muted"), row, 0)
    text = label(value, "mono")
    text.setObjectName(name)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    grid.addWidget(text, row, 1)
    copy = button("Copy", "copy", on_click=lambda: QGuiApplication.clipboard().setText(value))
    copy.setToolTip("Copy to the clipboard")
    grid.addWidget(copy, row, 2)


class TunnelPage(Page):
    key = "tunnel"
    title = "Tunnel"
    icon = "tunnel"
    subtitle = ("The tunnel gives WearSync a public https address, so patients can connect their accounts from "
                "home and Grafana can be opened from outside the clinic.")

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        # the signed-in user as of the click: the service checks the role and records who it was
        self.start_button = button("Start tunnel", "play", primary=True,
                                   on_click=lambda: ctx.tunnel.start(ctx.session.actor))
        self.start_button.setObjectName("tunnelStart")
        self.stop_button = button("Stop tunnel", "stop", on_click=lambda: ctx.tunnel.stop(ctx.session.actor))
        self.stop_button.setObjectName("tunnelStop")
        self.header.action_row.addWidget(self.stop_button)
        self.header.action_row.addWidget(self.start_button)

        self.error = Banner("error")
        self.error.setObjectName("tunnelError")
        self.error.action_clicked.connect(self.show_settings)
        self.layout_.addWidget(self.error)

        status = Card()
        head = QHBoxLayout()
        head.addWidget(label("Status", "section"))
        self.badge = Badge("down")
        self.badge.setObjectName("tunnelBadge")
        head.addWidget(self.badge)
        head.addStretch(1)
        status.body.addLayout(head)
        self.message = label("", "muted", wrap=True)
        self.message.setObjectName("tunnelMessage")
        status.body.addWidget(self.message)
        self.urls = QGridLayout()
        self.urls.setColumnStretch(1, 1)
        self.urls_box = QWidget()
        self.urls_box.setLayout(self.urls)
        status.body.addWidget(self.urls_box)

        self.portals = Card()
        self.portals.setObjectName("portalInstructions")
        self.portals_content: QWidget | None = None  # rebuilt whole for each new address
        self.portals.hide()
        self._dismissed_url: str | None = None  # "I have updated them" for this address

        self.settings = TunnelSettingsCard(ctx)

        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 8, 0)
        col.setSpacing(16)
        col.addWidget(status)
        col.addWidget(self.portals)
        col.addWidget(self.settings)
        col.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(inner)
        self.layout_.addWidget(self.scroll_area, 1)

        ctx.tunnel.status_changed.connect(self.show_status)
        ctx.tunnel.error_changed.connect(self.show_error)
        ctx.tunnel.grafana_signin_made.connect(self.show_grafana_signin)
        ctx.tunnel.busy_changed.connect(lambda _b: self.apply_permissions())
        self.show_status(ctx.tunnel.status)

    def shown(self) -> None:
        self.ctx.tunnel.refresh()
        self.settings.refresh()

    def has_unsaved_changes(self) -> bool:
        return self.settings.has_unsaved_changes()

    def save_changes(self) -> None:
        self.settings.save()

    def discard_changes(self) -> None:
        self.settings.refresh()

    def show_settings(self) -> None:
        self.scroll_area.ensureWidgetVisible(self.settings)
        self.settings.authtoken.setFocus()

    def apply_permissions(self) -> None:
        self.settings.apply_permissions()
        running = self.ctx.tunnel.is_running
        self.guard(self.start_button, "tunnel")
        self.guard(self.stop_button, "tunnel")
        if self.ctx.tunnel.busy:
            self.start_button.setEnabled(False)
            self.stop_button.setEnabled(False)
        self.start_button.setVisible(not running)
        self.stop_button.setVisible(running)

    def show_status(self, status: TunnelStatus) -> None:
        # a failed start stays on screen until the next attempt, whatever the polls say since
        if status.state != "error" and self.ctx.tunnel.last_error is None:
            self.error.hide()
        self.badge.set_status(status.state)
        self.message.setText(status.message)
        while self.urls.count():
            item = self.urls.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        row = 0
        if status.callback_url:
            copy_row(self.urls, row, "Public address", status.callback_url, "callbackUrl")
            row += 1
            copy_row(self.urls, row, "Redirect URI", status.callback_url.rstrip("/") + "/oauth2_callback",
                     "redirectUri")
            row += 1
        if status.grafana_url:
            copy_row(self.urls, row, "Grafana", status.grafana_url, "grafanaUrl")
            row += 1
        self.urls_box.setVisible(row > 0)
        self._show_portals(status)
        self.apply_permissions()

    def _show_portals(self, status: TunnelStatus) -> None:
        if not (status.url_changed and status.callback_url) or status.callback_url == self._dismissed_url:
            self.portals.hide()
            return
        if self.portals_content is not None:
            if self.portals_content.property("url") == status.callback_url:
                self.portals.show()
                return  # the same notice (a poll or a reconnect): keep it as it is
            self.portals_content.hide()
            self.portals_content.deleteLater()
        self.portals_content = QWidget()
        self.portals_content.setProperty("url", status.callback_url)
        body = QVBoxLayout(self.portals_content)
        body.setContentsMargins(0, 0, 0, 0)
        self.portals.body.addWidget(self.portals_content)
        head = QHBoxLayout()
        title = ("Your public address changed — register these redirect URIs" if status.previous_url
                 else "Register these redirect URIs in each vendor portal")
        head.addWidget(label(title, "section"), 1)
        done = button("I have updated them", "check", on_click=lambda: self._dismiss(status.callback_url))
        done.setObjectName("portalsDone")
        head.addWidget(done)
        body.addLayout(head)
        body.addWidget(label(
            "Each vendor only sends patients back to addresses registered in its developer portal. Until you "
            "update them, connecting a patient fails. A static domain (Tunnel settings, below) avoids this.",
            "help", wrap=True))
        for step in vendor_portal_instructions(status.callback_url):
            grid = QGridLayout()
            grid.setColumnStretch(1, 1)
            heading = label(f'{vendor_label(step.vendor)} — <a href="{step.portal_link}">{step.portal_name}</a>')
            heading.setTextFormat(Qt.TextFormat.RichText)
            heading.setOpenExternalLinks(True)
            heading.setStyleSheet("font-weight: 600; margin-top: 8px;")
            grid.addWidget(heading, 0, 0, 1, 3)
            copy_row(grid, 1, "Redirect URI", step.redirect_uri, f"redirect_{step.vendor}")
            grid.addWidget(label(step.note, "help", wrap=True), 2, 0, 1, 3)
            body.addLayout(grid)
        self.portals.show()

    def _dismiss(self, url: str | None) -> None:
        self._dismissed_url = url
        self.portals.hide()

    def show_error(self, error: Exception | None) -> None:
        if error is None:
            if self.ctx.tunnel.status.state != "error":
                self.error.hide()
            return
        action = "Fix in Tunnel settings" if isinstance(error, FIXED_IN_SETTINGS) else None
        self.error.show_message(tunnel_failure_text(error), "error", action)

    def show_grafana_signin(self, user: str, password: str) -> None:
        """Shown once: the sign-in WearSync made for Grafana through the tunnel."""
        self.ctx.dialogs.info(
            self, "Grafana is protected",
            "Anyone opening Grafana through the tunnel is now asked for this sign-in first:\n\n"
            f"User: {user}\nPassword: {password}\n\n"
            "Write it down or pass it on to those who use Grafana; it is not shown again. An administrator can "
            "see it under Settings → Secrets, or change it in Tunnel settings.")
