"""The window's pages, in navigation order. A new page is one file here and one line below."""

from __future__ import annotations

from gui.pages.alerts import AlertsPage
from gui.pages.base import Page
from gui.pages.compliance.page import CompliancePage
from gui.pages.data.page import DataPage
from gui.pages.log import LogPage
from gui.pages.patients.page import PatientsPage
from gui.pages.settings.page import SettingsPage
from gui.pages.sync.page import SyncPage
from gui.pages.tunnel.page import TunnelPage
from gui.pages.users.page import UsersPage

PAGES: list[type[Page]] = [PatientsPage, DataPage, CompliancePage, SyncPage, AlertsPage, TunnelPage, UsersPage,
                           SettingsPage, LogPage]

__all__ = ["PAGES", "Page"]
