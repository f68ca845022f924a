"""The window's pages, in navigation order. A new page is one file here and one line below.

Each line names the page's module and class with the key, title and icon the navigation shows, so
the window can list every page and build each one only when it is first shown (issue 15: the chart
pages pull in pyqtgraph and numpy, half a second of start-up). A Page subclass itself may stand in
the list too (tests do). tests/gui/test_lazy_pages.py checks each line against its class.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TypeAlias

from gui.pages.base import Page


@dataclass(frozen=True)
class PageRef:
    """A page not imported yet: what the navigation shows, and where the class lives."""

    key: str
    title: str
    icon: str
    module: str
    name: str

    def load(self) -> type[Page]:
        cls = getattr(importlib.import_module(self.module), self.name)
        if not (isinstance(cls, type) and issubclass(cls, Page)) or cls.key != self.key:
            raise TypeError(f"{self.module}.{self.name} is not the page {self.key!r}")
        return cls


PageEntry: TypeAlias = type[Page] | PageRef

PAGES: list[PageEntry] = [
    PageRef("patients", "Patients", "patients", "gui.pages.patients.page", "PatientsPage"),
    PageRef("data", "Data", "chart", "gui.pages.data.page", "DataPage"),
    PageRef("compliance", "Compliance", "check", "gui.pages.compliance.page", "CompliancePage"),
    PageRef("sync", "Sync", "sync", "gui.pages.sync.page", "SyncPage"),
    PageRef("alerts", "Alerts", "warning", "gui.pages.alerts", "AlertsPage"),
    PageRef("tunnel", "Tunnel", "tunnel", "gui.pages.tunnel.page", "TunnelPage"),
    PageRef("users", "Keys & Users", "keys", "gui.pages.users.page", "UsersPage"),
    PageRef("settings", "Settings", "settings", "gui.pages.settings.page", "SettingsPage"),
    PageRef("log", "Log", "log", "gui.pages.log", "LogPage"),
]


def page_class(entry: PageEntry) -> type[Page]:
    return entry.load() if isinstance(entry, PageRef) else entry


__all__ = ["PAGES", "Page", "PageEntry", "PageRef", "page_class"]
