"""The "Tunnel settings" card of the Tunnel page: start with WearSync, the ngrok auth token, the
static domain, the ngrok program, and who may open Grafana through the tunnel.

Values are read and saved through services/reach/tunnel_setup.py, off the UI thread; a bad value (domain,
address range, short password) is refused with a message and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QCheckBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.pages.settings.mysql_dialog import plain
from gui.widgets import Card, button, label
from services.reach import tunnel_setup
from services.reach.tunnel_setup import OPEN_NOTICE, TunnelOptions

AUTHTOKEN_LINK = "https://dashboard.ngrok.com/get-started/your-authtoken"
DOMAINS_LINK = "https://dashboard.ngrok.com/domains"


def link(text: str, href: str) -> QWidget:
    lbl = label(f'<a href="{href}">{text}</a>', "help")
    lbl.setTextFormat(Qt.TextFormat.RichText)
    lbl.setOpenExternalLinks(True)
    return lbl


def text_field(name: str, placeholder: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setFixedWidth(320)
    return edit


def secret_field(name: str) -> QLineEdit:
    edit = text_field(name)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class TunnelSettingsCard(Card):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("tunnelSettings")
        self.options: TunnelOptions | None = None
        self.pick_file: Callable[[], str] = lambda: QFileDialog.getOpenFileName(
            self, "Where is the ngrok program?")[0]
        self.body.addWidget(label("Tunnel settings", "section"))

        form = QFormLayout()
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(12)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.start_with_app = QCheckBox("Start the tunnel when WearSync starts")
        self.start_with_app.setObjectName("tunnelStartWithApp")
        form.addRow("", self.start_with_app)

        self.authtoken = secret_field("tunnelAuthtoken")
        form.addRow("ngrok auth token", self._cell(self.authtoken, link("Copy yours from the ngrok dashboard",
                                                                        AUTHTOKEN_LINK)))
        self.domain = text_field("tunnelDomain", "e.g. clinic-name.ngrok-free.app")
        form.addRow("Static domain", self._cell(
            self.domain, link("Your domains", DOMAINS_LINK),
            help_text="The free ngrok plan gives one static domain, so the public address — and the redirect "
                      "URIs registered at each vendor — never change. Without it the address changes at every "
                      "start."))
        self.path = text_field("tunnelNgrokPath", "empty: WearSync downloads ngrok the first time")
        choose = button("Choose…", on_click=self.choose_path)
        choose.setObjectName("tunnelChoosePath")
        form.addRow("ngrok program", self._cell(self.path, choose))

        grafana_title = label("Grafana through the tunnel", "section")
        grafana_title.setContentsMargins(0, 8, 0, 0)
        form.addRow(grafana_title)
        form.addRow(label("Before Grafana's own sign-in, ngrok asks for a user and password, and can turn away "
                          "every address outside the allowed ranges. If you set neither, WearSync makes a sign-in "
                          "the first time the tunnel starts and shows its password once.", "help", wrap=True))
        self.grafana_domain = text_field("tunnelGrafanaDomain", "optional: a second static domain")
        form.addRow("Grafana domain", self._cell(
            self.grafana_domain, help_text="With a second static domain Grafana's address stays the same too; "
                                           "without it Grafana gets a new address at every start."))
        self.grafana_user = text_field("tunnelGrafanaUser", "empty: no extra sign-in")
        self.grafana_password = secret_field("tunnelGrafanaPassword")
        self.allow = text_field("tunnelAllow", "empty: any address")
        form.addRow("Sign-in user", self._cell(self.grafana_user))
        form.addRow("Sign-in password", self._cell(self.grafana_password, label("8 to 128 characters", "help")))
        form.addRow("Allowed addresses", self._cell(self.allow, label("e.g. 203.0.113.0/24, 198.51.100.7",
                                                                      "help")))
        self.grafana_open = QCheckBox("No protection: anyone may reach it (not recommended)")
        self.grafana_open.setToolTip("Let anyone with Grafana's address reach its sign-in page, without the "
                                     "tunnel's sign-in or an address list.")
        self.grafana_open.setObjectName("tunnelGrafanaOpen")
        form.addRow("", self.grafana_open)
        self.body.addLayout(form)
        self.open_notice = label(OPEN_NOTICE, "error", wrap=True)
        self.open_notice.setObjectName("tunnelGrafanaOpenNotice")
        self.open_notice.hide()
        self.body.addWidget(self.open_notice)

        self.override = label("", "help", wrap=True)
        self.override.hide()
        self.body.addWidget(self.override)
        self.error = label("", "error", wrap=True)
        self.error.setObjectName("tunnelSettingsError")
        self.error.hide()
        self.body.addWidget(self.error)
        row = QHBoxLayout()
        self.saved = label("", "muted", wrap=True)
        self.saved.setObjectName("tunnelSettingsSaved")
        row.addWidget(self.saved, 1)
        self.save_button = button("Save tunnel settings", primary=True, on_click=self.save)
        self.save_button.setObjectName("tunnelSaveSettings")
        row.addWidget(self.save_button)
        self.body.addLayout(row)
        self.fields: tuple[QWidget, ...] = (self.start_with_app, self.authtoken, self.domain, self.path, choose,
                                            self.grafana_user, self.grafana_password, self.allow,
                                            self.grafana_domain, self.grafana_open, self.save_button)

    def event(self, event: QEvent) -> bool:
        """The card is never given less than its preferred height: the form's height-for-width counts the
        help under the domain fields as one line, so when banners took the page's room (a 1200×760 window)
        the fields and the help were cut instead of the page scrolling. A layout bounds a widget's
        height-for-width by its minimum height, so the minimum follows the content."""
        if event.type() == QEvent.Type.LayoutRequest:
            self.setMinimumHeight(self.sizeHint().height())
        return super().event(event)

    @staticmethod
    def _cell(field: QWidget, extra: QWidget | None = None, help_text: str = "") -> QWidget:
        """The field at a fixed width, what goes with it on its right, its explanation under it."""
        cell = QWidget()
        col = QVBoxLayout(cell)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(4)
        row = QHBoxLayout()
        row.addWidget(field)
        if extra is not None:
            row.addWidget(extra)
        row.addStretch(1)
        col.addLayout(row)
        if help_text:
            col.addWidget(label(help_text, "help", wrap=True))
        return cell

    def refresh(self) -> None:
        self.ctx.bridge.submit(tunnel_setup.load_options, self.ctx.app, on_result=self._loaded,
                               on_error=self._failed, context=self)

    def _loaded(self, o: TunnelOptions) -> None:
        self.options = o
        self.start_with_app.setChecked(o.start_with_app)
        self.domain.setText(o.domain)
        self.path.setText(o.ngrok_path)
        self.grafana_user.setText(o.grafana_user)
        self.allow.setText(", ".join(o.allow_cidrs))
        self.grafana_domain.setText(o.grafana_domain)
        self.grafana_open.setChecked(o.grafana_open)
        self.open_notice.setVisible(bool(o.protection_notice))
        for edit, stored in ((self.authtoken, o.has_authtoken), (self.grafana_password, o.has_grafana_password)):
            edit.clear()
            edit.setPlaceholderText("stored — type to replace" if stored else "not set")
        if o.overridden:
            words = {"ngrok_path": "the ngrok program", "ngrok_domain": "the static domain"}
            self.override.setText("Given to WearSync when it starts, and used instead of the value here: "
                                  + ", ".join(words.get(key, key) for key, _var in o.overridden) + ".")
            self.override.setToolTip("Environment variables: " + ", ".join(var for _key, var in o.overridden))
        self.override.setVisible(bool(o.overridden))

    def has_unsaved_changes(self) -> bool:
        o = self.options
        if o is None or not self.save_button.isEnabled():
            return False  # not loaded, saving now, or not this person's to change
        cidrs = [c.strip() for c in self.allow.text().split(",") if c.strip()]
        return (self.start_with_app.isChecked() != o.start_with_app or self.domain.text().strip() != o.domain
                or self.path.text().strip() != o.ngrok_path or self.grafana_user.text().strip() != o.grafana_user
                or cidrs != list(o.allow_cidrs) or bool(self.authtoken.text())
                or bool(self.grafana_password.text()))

    def apply_permissions(self) -> None:
        allowed = self.ctx.session.can("tunnel") and self.ctx.session.can("settings")
        for f in self.fields:
            f.setEnabled(allowed)

    def choose_path(self) -> None:
        path = self.pick_file()
        if path:
            self.path.setText(path)

    def save(self) -> None:
        self.error.hide()
        self.saved.setText("")
        self.save_button.setEnabled(False)
        self.ctx.bridge.submit(
            tunnel_setup.save_options, self.ctx.app,
            start_with_app=self.start_with_app.isChecked(), domain=self.domain.text(), ngrok_path=self.path.text(),
            grafana_user=self.grafana_user.text(), allow_cidrs=self.allow.text(),
            grafana_password=self.grafana_password.text() or None, authtoken=self.authtoken.text() or None,
            grafana_domain=self.grafana_domain.text(), grafana_open=self.grafana_open.isChecked(),
            actor=self.ctx.session.actor, on_result=self._saved, on_error=self._failed, context=self)

    def _saved(self, o: TunnelOptions) -> None:
        self.save_button.setEnabled(True)
        self._loaded(o)
        running = self.ctx.tunnel.is_running
        self.saved.setText("Saved. Stop and start the tunnel to use the new settings." if running else "Saved.")
        self.ctx.events.setting_changed.emit("start_tunnel_with_app", o.start_with_app)

    def _failed(self, error: Exception) -> None:
        self.save_button.setEnabled(True)
        self.error.setText(plain(error))
        self.error.show()
