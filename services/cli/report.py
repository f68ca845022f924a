"""`main.py report --patient P --start D --end D --out FILE.pdf` — the printable patient summary.

This module validates the request and builds the report's content (services/data/report.py); the
PDF is drawn by a renderer handed in by the entry point (main.py registers gui.report_pdf's, since
services/ never imports Qt). The file appears whole or not at all: it is written under a temporary
name and renamed, and nothing is left behind when any step fails.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.cli.common import opened_app, out, parse_day
from services.errors import InvalidInput, WearSyncError

if TYPE_CHECKING:
    from services.data.report import ReportData

Renderer = Callable[["ReportData", Path], None]
_renderer: list[Renderer] = []


def set_renderer(render: Renderer) -> None:
    """The function that draws a ReportData to a PDF file (main.py hands in gui.report_pdf.render_pdf)."""
    _renderer[:] = [render]


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write a printable PDF summary of one patient's data")
    p.add_argument("--patient", required=True, metavar="P", help="patient ID")
    p.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first patient-local day")
    p.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="last patient-local day")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the PDF")
    p.set_defaults(func=_report)


def check_out_path(raw: str) -> Path:
    """The PDF's destination, refused (one sentence) unless a file can be written there."""
    target = Path(raw).expanduser()
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder; give a file name ending in .pdf.")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"The folder {parent} does not exist. Choose another place to save the report.")
    import uuid

    probe = parent / f".wearsync-{uuid.uuid4().hex[:8]}.probe"
    try:
        probe.open("xb").close()
        probe.unlink()
    except OSError:
        raise InvalidInput(f"WearSync may not write to {parent}. Choose another folder.") from None
    return target


def write_report(data: ReportData, target: Path, render: Renderer) -> None:
    """Render under a temporary name beside the target, then rename; no partial file on failure."""
    import uuid

    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part.pdf")
    try:
        render(data, tmp)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise WearSyncError("The report could not be drawn; no file was written.")
        os.replace(tmp, target)
    except PermissionError:
        raise InvalidInput(f"WearSync may not write to {target}. Choose another place.") from None
    except OSError as exc:
        raise WearSyncError(f"The report could not be written to {target} ({exc.strerror or exc}).") from None
    finally:
        tmp.unlink(missing_ok=True)


def _report(args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST
    from services.data.sqltime import check_range

    start, end = parse_day(args.start, "--start"), parse_day(args.end, "--end")
    check_range(start, end)
    target = check_out_path(args.out)
    if not _renderer:
        raise WearSyncError("This copy of WearSync cannot draw PDF reports (the window components are missing).")
    with opened_app() as app:
        data = app.reports.build(args.patient, start, end)
        write_report(data, target, _renderer[0])
        app.audit.record(HOST, "report", data.patient, f"{start}..{end} to {target.name}")
    out(str(target))
    return 0
