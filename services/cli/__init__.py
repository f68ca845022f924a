"""Headless entry points behind `main.py SUBCOMMAND`. Each module adds its subcommand.

A module exposes `register(subparsers)`, which adds an argparse parser and sets `func` to a
handler `(args) -> int` (the exit status). Handlers raise WearSyncError for a plain one-line
reason; main.py prints it to stderr.
"""

from __future__ import annotations

import importlib
from typing import Any

COMMAND_MODULES = (
    "services.cli.db",
    "services.cli.patients",
    "services.cli.tunnel",
    "services.cli.mysql",
    "services.cli.grafana",
    "services.cli.users",
    "services.cli.keys",
    "services.cli.audit",
    "services.cli.connect",
    "services.cli.sync",
    "services.cli.export",
    "services.cli.alerts",
    "services.cli.compliance",
    "services.cli.report",
)


def register_all(subparsers: Any) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
