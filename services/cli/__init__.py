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
    "services.cli.links",
    "services.cli.sync",
    "services.cli.export",
    "services.cli.data",
    "services.cli.alerts",
    "services.cli.compliance",
    "services.cli.report",
    "services.cli.secrets",
    "services.cli.settings",
    "services.cli.autostart",
)

# How `main.py --help` groups the subcommands, in this order; a command not named here is listed last.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Patients and data", ("patients", "export", "data", "compliance", "report")),
    ("Connections", ("connect", "links")),
    ("Downloads and alerts", ("sync", "alerts")),
    ("Reaching outside (tunnel, Grafana, MySQL)", ("tunnel", "grafana", "mysql")),
    ("Accounts and the audit trail", ("users", "keys", "audit")),
    ("Set-up", ("db", "secrets", "settings", "autostart")),
)


def register_all(subparsers: Any) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)


def grouped_help(subparsers: Any) -> str:
    """The subcommands with their one-line help, grouped for a coordinator reading `--help`."""
    helps = {a.dest: (a.help or "") for a in subparsers._choices_actions}
    width = max((len(n) for n in helps), default=0) + 2
    lines: list[str] = []
    seen: set[str] = set()
    for title, names in (*GROUPS, ("Other", tuple(n for n in helps if not any(n in g for _, g in GROUPS)))):
        present = [n for n in names if n in helps]
        if not present:
            continue
        lines.append(f"{title}:")
        lines += [f"  {n.ljust(width)}{helps[n]}" for n in present]
        lines.append("")
        seen.update(present)
    lines.append("Each command explains itself: main.py COMMAND --help")
    return "\n".join(lines)
