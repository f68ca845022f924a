"""WearSync entry point: the GUI by default, subcommands for headless use (see DESIGN.md)."""

from __future__ import annotations

import argparse
import logging
import sys

# the window's own options: with nothing else on the command line no subcommand is registered, so
# opening the window does not import every command module (issue 15: start-up time)
WINDOW_OPTIONS = frozenset({"--headless", "--sandbox", "--minimized"})


def build_parser(commands: bool = True) -> argparse.ArgumentParser:
    from services.config import VERSION

    parser = argparse.ArgumentParser(
        prog="main.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="WearSync: enrol patients who wear Fitbit, Withings and Polar devices, download "
        "their data on a schedule into SQL, and show it in Grafana. Without a subcommand the window "
        "opens.",
    )
    parser.add_argument("--version", action="version", version=f"WearSync {VERSION}")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true",
                      help="run the scheduler and callback listener without a window (servers, systemd)")
    mode.add_argument("--sandbox", action="store_true",
                      help="open the window against built-in sandbox vendors with demo patients")
    parser.add_argument("--minimized", action="store_true",
                        help="start in the tray without showing the window (used when starting at sign-in)")
    if not commands:
        parser.set_defaults(command=None)
        return parser
    from services.cli import grouped_help, register_all

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="one of the commands below")
    register_all(sub)
    parser.epilog = grouped_help(sub)
    sub._choices_actions.clear()  # listed once, grouped, in the epilog
    return parser


def main(argv: list[str] | None = None) -> int:
    from services.filemodes import private_umask

    private_umask()  # the data folder holds patient data: what this process creates is owner-only
    # log records go to WearSync's log file once a command sets it up, never as text on stderr
    # (no last-resort printing), and a log write failing (full disk) prints no traceback
    logging.lastResort = None
    logging.raiseExceptions = False
    given = sys.argv[1:] if argv is None else argv
    parser = build_parser(commands=not set(given) <= WINDOW_OPTIONS)
    args = parser.parse_args(argv)
    from services.errors import WearSyncError
    from services.failures import one_line

    try:
        if args.command == "report":
            _register_report_renderer()
        if args.command:
            return int(args.func(args))
        if args.headless:
            from services.headless import run_headless

            return run_headless(exit_when_stuck=True)
        from gui.application import run_gui

        return run_gui(sandbox=args.sandbox, minimized=args.minimized)
    except WearSyncError as exc:
        hint = f" {exc.terminal_hint}" if exc.terminal_hint and exc.terminal_hint not in exc.message else ""
        sys.stderr.write(f"wearsync: {one_line(exc.message + hint)}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("wearsync: interrupted\n")
        return 130
    except Exception as exc:  # one sentence on stderr; the traceback only in the log file
        from services.failures import describe, unexpected

        message = describe(exc)
        logging.getLogger("wearsync").error("command failed: %s", message or "unexpected error",
                                            exc_info=message is None)
        sys.stderr.write(f"wearsync: {message or unexpected(exc)}\n")
        return 1


def _register_report_renderer() -> None:
    """The PDF is drawn with Qt, which services/ never imports: the entry point hands it over."""
    try:
        from gui.report_pdf import render_pdf
    except ImportError:
        return  # services.cli.report says plainly that reports cannot be drawn
    from services.cli.report import set_renderer

    set_renderer(render_pdf)


if __name__ == "__main__":
    sys.exit(main())
