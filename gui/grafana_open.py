""""Open in Grafana" for one patient: the button the patient detail panel carries.

It opens the patient dashboard for the shown patient: through the tunnel's Grafana address when
the tunnel is up, else GRAFANA_URL, else the local Grafana port. The keyring and settings are read
off the UI thread. The button finds the page context through its ancestors, so the panel needs no
new constructor argument, and it mirrors the panel's "no patient selected" placeholder, so it only
shows when a patient is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer, QUrl
from PySide6.QtWidgets import QPushButton, QWidget

from gui import theme, widgets
from gui.context import PageContext
from services.reach.grafana import grafana_base_url, open_in_grafana_url

if TYPE_CHECKING:
    from services.app import WearSync


def patient_dashboard_url(app: WearSync, code: str, tunnel_grafana_url: str | None) -> str:
    """Runs on a worker: reads GRAFANA_URL (keyring) and the Grafana port (database)."""
    base = grafana_base_url(app.secrets, tunnel_grafana_url, int(app.settings.get("grafana_port")))
    return open_in_grafana_url(base, app.patients.row_id(code))


def open_in_browser(url: str) -> bool:
    return bool(widgets.desktop_open(QUrl(url)))


def find_context(widget: QWidget) -> PageContext | None:
    node: QObject | None = widget
    while node is not None:
        ctx = getattr(node, "ctx", None)
        if isinstance(ctx, PageContext):
            return ctx
        node = node.parent()
    return None


class OpenInGrafanaButton(QPushButton):
    #: replaced in tests; called with the URL on the UI thread
    opener: Callable[[str], object] = staticmethod(open_in_browser)

    def __init__(self, detail: QWidget) -> None:
        super().__init__("Open in Grafana")
        self.setObjectName("openInGrafana")
        self.setIcon(theme.icon("chart"))
        self.setToolTip("Open this patient's dashboard in Grafana (through the tunnel when it is running).")
        self._detail = detail
        self.last_url: str | None = None
        self.clicked.connect(self.open_dashboard)
        self.hide()
        # the panel makes its placeholder after its buttons: watch it once the panel is built
        QTimer.singleShot(0, self, self._watch_placeholder)

    def _watch_placeholder(self) -> None:
        placeholder = getattr(self._detail, "placeholder", None)
        if isinstance(placeholder, QWidget):
            placeholder.installEventFilter(self)
            self.setVisible(placeholder.isHidden())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # the placeholder shows when no patient is selected: the button does the opposite
        if event.type() == QEvent.Type.ShowToParent:
            self.hide()
        elif event.type() == QEvent.Type.HideToParent:
            self.show()
        return False

    def open_dashboard(self) -> None:
        patient = getattr(self._detail, "patient", None)
        ctx = find_context(self)
        if patient is None or ctx is None:
            return
        tunnel = ctx.tunnel.grafana_url
        self.setEnabled(False)

        def opened(url: str) -> None:
            self.setEnabled(True)
            self.last_url = url
            if type(self).opener(url) is False:  # no browser answered: show the address to copy
                self.copy_dialog = widgets.CopyTargetDialog(url, folder=False, parent=self.window())
                self.copy_dialog.open()

        def failed(error: Exception) -> None:
            self.setEnabled(True)
            ctx.dialogs.error(self, error)

        ctx.bridge.submit(patient_dashboard_url, ctx.app, patient.code, tunnel, on_result=opened, on_error=failed,
                          context=self)
