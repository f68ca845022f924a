"""The Grafana box of the Settings page: Grafana's address and service-account token, writing the
provisioning files, pushing data source and dashboards through Grafana's API, and running every
dashboard query as the read-only account (a per-panel OK/problem list)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from gui.context import PageContext
from gui.pages.settings.mysql_dialog import plain
from gui.widgets import Card, button, label
from services.accounts.actor import Actor
from services.reach import grafana
from services.reach.grafana_check import QueryCheck, check_dashboard_queries
from services.reach.tunnel import TunnelStatus
from services.secret_admin import delete_secret, set_secret

if TYPE_CHECKING:
    from services.app import WearSync

TOKEN_HELP = "https://grafana.com/docs/grafana/latest/administration/service-accounts/"
URL_SECRET, TOKEN_SECRET = "GRAFANA_URL", "GRAFANA_API_TOKEN"


@dataclass(frozen=True)
class GrafanaSettings:
    url: str
    has_token: bool
    port: int


def load(app: WearSync) -> GrafanaSettings:
    return GrafanaSettings(app.secrets.get(URL_SECRET) or "", bool(app.secrets.get(TOKEN_SECRET)),
                           int(app.settings.get("grafana_port")))


def save(app: WearSync, url: str, token: str | None, actor: Actor) -> GrafanaSettings:
    """Check the address first; nothing is stored when it is wrong. token None: keep the stored one.
    Stored as the signed-in person (role check and audit entry in services/secret_admin.py)."""
    url = grafana.check_grafana_url(url) if url.strip() else ""
    actor.require("secrets")
    if url:
        set_secret(app, actor, URL_SECRET, url)
    else:
        delete_secret(app, actor, URL_SECRET)
    if token is not None and token.strip():
        set_secret(app, actor, TOKEN_SECRET, token.strip())
    return load(app)


def run_dashboard_check(app: WearSync) -> list[QueryCheck]:
    reader = grafana.reader_connection(app.environ, app.secrets)
    return check_dashboard_queries(reader.url, now=app.clock.utcnow())


class GrafanaBox(Card):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.loaded: GrafanaSettings | None = None
        self.pick_folder: Callable[[], str] = lambda: QFileDialog.getExistingDirectory(
            self, "Where should WearSync write the Grafana files?", str(ctx.app.paths.home))
        self.body.addWidget(label("Grafana", "section"))
        self.body.addWidget(label(
            "Grafana shows the clinic and patient dashboards from the MySQL database, through its read-only "
            "account. WearSync can set Grafana up for you.", "muted", wrap=True))
        form = QFormLayout()
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(10)
        self.url = QLineEdit()
        self.url.setObjectName("grafanaUrl")
        self.url.setPlaceholderText("http://localhost:3000")
        self.url.setMinimumWidth(260)
        self.token = QLineEdit()
        self.token.setObjectName("grafanaToken")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setMinimumWidth(260)
        form.addRow("Grafana address", self.url)
        token_cell = QWidget()
        row = QHBoxLayout(token_cell)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.token)
        how = label(f'<a href="{TOKEN_HELP}">How to create a service-account token</a>', "help", wrap=True)
        how.setTextFormat(Qt.TextFormat.RichText)
        how.setOpenExternalLinks(True)
        row.addWidget(how, 1)
        form.addRow("Service-account token", token_cell)
        self.body.addLayout(form)
        self.opens = label("", "help", wrap=True)
        self.opens.setObjectName("grafanaOpensAt")
        self.body.addWidget(self.opens)

        actions = QHBoxLayout()
        self.save_button = button("Save", on_click=self.save)
        self.save_button.setObjectName("grafanaSave")
        self.files_button = button("Write provisioning files…", "import", on_click=self.write_files)
        self.files_button.setObjectName("grafanaFiles")
        self.check_button = button("Test dashboards", "check", on_click=self.check)
        self.check_button.setObjectName("grafanaCheck")
        self.push_button = button("Push to Grafana", "play", primary=True, on_click=self.push)
        self.push_button.setObjectName("grafanaPush")
        actions.addWidget(self.save_button)
        actions.addStretch(1)
        for b in (self.files_button, self.check_button, self.push_button):
            actions.addWidget(b)
        self.body.addLayout(actions)
        self.result = label("", wrap=True)
        self.result.setObjectName("grafanaResult")
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.hide()
        self.body.addWidget(self.result)
        self.checks = QTableWidget(0, 3)
        self.checks.setObjectName("grafanaChecks")
        self.checks.setHorizontalHeaderLabels(["Dashboard", "Panel", "Result"])
        self.checks.verticalHeader().hide()
        self.checks.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.checks.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.checks.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.checks.setMinimumHeight(220)
        self.checks.hide()
        self.body.addWidget(self.checks)
        self.buttons = (self.save_button, self.files_button, self.check_button, self.push_button)
        ctx.tunnel.status_changed.connect(lambda _s: self._show_opens())

    # -- state ---------------------------------------------------------------------------
    def refresh(self) -> None:
        self.ctx.bridge.submit(load, self.ctx.app, on_result=self._loaded, on_error=self._show_error, context=self)

    def _loaded(self, s: GrafanaSettings) -> None:
        self.loaded = s
        self.url.setText(s.url)
        self.token.clear()
        self.token.setPlaceholderText("stored — type to replace" if s.has_token else "not set")
        self._show_opens()

    def _show_opens(self, _status: TunnelStatus | None = None) -> None:
        tunnel = self.ctx.tunnel.grafana_url
        if tunnel:
            self.opens.setText(f"“Open in Grafana” uses the tunnel: {tunnel}")
        elif self.loaded is not None:
            local = self.loaded.url or f"http://localhost:{self.loaded.port}"
            self.opens.setText(f"“Open in Grafana” opens {local} (the tunnel's address when it is running).")

    def apply_permissions(self) -> None:
        allowed = self.ctx.session.can("settings")
        for b in self.buttons:
            b.setEnabled(allowed)
        self.url.setEnabled(allowed)
        self.token.setEnabled(allowed)

    def _busy(self, busy: bool, text: str = "") -> None:
        for b in self.buttons:
            b.setEnabled(not busy and self.ctx.session.can("settings"))
        if busy:
            self._say(text, ok=None)

    def _say(self, text: str, ok: bool | None) -> None:
        colour = {True: "#166534", False: "#b91c1c", None: "#6b7280"}[ok]
        self.result.setStyleSheet(f"color: {colour};")
        self.result.setText(text)
        self.result.show()

    def _show_error(self, error: Exception) -> None:
        self._busy(False)
        self._say(plain(error), ok=False)

    # -- actions -------------------------------------------------------------------------
    def save(self) -> None:
        token = self.token.text() or None
        self._busy(True, "Saving…")
        self.ctx.bridge.submit(save, self.ctx.app, self.url.text(), token, self.ctx.session.actor,
                               on_result=self._saved,
                               on_error=self._show_error, context=self)

    def _saved(self, s: GrafanaSettings) -> None:
        self._busy(False)
        self._loaded(s)
        self._say("Saved.", ok=True)

    def write_files(self) -> None:
        folder = self.pick_folder()
        if not folder:
            return
        self._busy(True, "Writing the files…")
        self.checks.hide()
        self.ctx.bridge.submit(grafana.provision, Path(folder), push=False, environ=self.ctx.app.environ,
                               secrets=self.ctx.app.secrets, on_result=self._written, on_error=self._show_error,
                               context=self)

    def _written(self, result: grafana.ProvisionResult) -> None:
        self._busy(False)
        folder = result.files[0].parents[2] if result.files else ""
        self._say(f"Wrote {len(result.files)} files to {folder}. Point Grafana's provisioning folder at "
                  f"{folder}/provisioning and set GRAFANA_DB_PASSWORD in Grafana's environment "
                  "(it is in Settings → Secrets).", ok=True)

    def push(self) -> None:
        self._busy(True, "Sending the data source and dashboards to Grafana…")
        self.checks.hide()
        self.ctx.bridge.submit(grafana.provision, push=True, environ=self.ctx.app.environ,
                               secrets=self.ctx.app.secrets, on_result=self._pushed, on_error=self._show_error,
                               context=self)

    def _pushed(self, result: grafana.ProvisionResult) -> None:
        self._busy(False)
        if result.push is None:
            self._say(f"Grafana was not updated: {result.skipped_push_reason}.", ok=False)
            return
        verb = "created" if result.push.datasource == "created" else "updated"
        self._say(f"Grafana is set up: data source “WearSync” {verb}, {len(result.push.dashboards)} dashboards "
                  "saved in the WearSync folder.", ok=True)

    def check(self) -> None:
        self._busy(True, "Running every dashboard query as the read-only account…")
        self.ctx.bridge.submit(run_dashboard_check, self.ctx.app, on_result=self._tested, on_error=self._show_error,
                               context=self)

    def _tested(self, checks: list[QueryCheck]) -> None:
        self._busy(False)
        bad = [c for c in checks if not c.ok]
        self.checks.setRowCount(len(checks))
        for i, c in enumerate(sorted(checks, key=lambda c: c.ok)):  # problems first
            for j, text in enumerate((c.dashboard, c.panel, ("✓ " if c.ok else "✗ ") + c.message)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if j == 2:
                    item.setForeground(Qt.GlobalColor.darkGreen if c.ok else Qt.GlobalColor.red)
                self.checks.setItem(i, j, item)
        self.checks.resizeColumnsToContents()
        self.checks.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.checks.show()
        if bad:
            self._say(f"{len(bad)} of {len(checks)} panels have a problem (listed first).", ok=False)
        else:
            self._say(f"All {len(checks)} panels work with the read-only account.", ok=True)
