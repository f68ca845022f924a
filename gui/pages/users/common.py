"""What the Keys & Users tabs share: role names and descriptions, and the table they list in."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget

ROLE_NAMES = {"admin": "Administrator", "coordinator": "Coordinator", "viewer": "Viewer"}
ROLE_HELP = {
    "admin": "everything: users and keys, secrets, tunnel, database, deleting and withdrawing patients",
    "coordinator": "patients, connecting vendor accounts, downloads and exports",
    "viewer": "read-only: status and charts",
}


def table(columns: list[str], name: str) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(columns)
    t.verticalHeader().hide()
    t.verticalHeader().setDefaultSectionSize(38)
    t.setShowGrid(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    hdr = t.horizontalHeader()
    hdr.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    hdr.setHighlightSections(False)
    hdr.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    return t
