"""`main.py grafana provision|url`: Grafana's data source and dashboards from the command line.

`provision` writes the provisioning files (default <WEARSYNC_HOME>/grafana) and, when GRAFANA_URL
and GRAFANA_API_TOKEN are set, pushes the same through Grafana's HTTP API. It needs WearSync on
MySQL (`main.py mysql setup`), whose reader account Grafana uses.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from services.cli.common import audit_host, out


def register(sub: Any) -> None:
    p = sub.add_parser("grafana", help="provision Grafana's data source and dashboards")
    gs = p.add_subparsers(dest="grafana_command", required=True, metavar="{provision,check,url}")
    pr = gs.add_parser("provision", help="write Grafana provisioning files and update Grafana through its API")
    pr.add_argument("--out", type=Path, help="folder for the files (default: <WEARSYNC_HOME>/grafana)")
    push = pr.add_mutually_exclusive_group()
    push.add_argument("--push", dest="push", action="store_true", default=None,
                      help="also update Grafana through its API (needs GRAFANA_URL and GRAFANA_API_TOKEN)")
    push.add_argument("--no-push", dest="push", action="store_false", help="only write the files")
    pr.add_argument("--embed-password", action="store_true",
                    help="write the reader's password into the data source file instead of $GRAFANA_DB_PASSWORD")
    pr.add_argument("--mysql-address", metavar="HOST:PORT",
                    help="the database as Grafana reaches it, if not as WearSync does")
    pr.add_argument("--dashboards-path", type=Path, metavar="PATH",
                    help="where Grafana will find the dashboard JSON files, if you copy them elsewhere")
    pr.set_defaults(func=_provision)
    ck = gs.add_parser("check", help="run every dashboard query as Grafana's read-only account")
    ck.add_argument("--patient", help="value for $patient (default: the first patient)")
    ck.add_argument("--days", type=int, default=7, help="time range ending now (default 7 days)")
    ck.set_defaults(func=_check)
    url = gs.add_parser("url", help="print the address of the clinic dashboard or of one patient's")
    url.add_argument("patient", nargs="?", help="patient ID (default: the clinic overview)")
    url.add_argument("--base", help="Grafana's address (default: GRAFANA_URL, else http://localhost:3000)")
    url.set_defaults(func=_url)


def _provision(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.reach.grafana import PASSWORD_ENV, provision

    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise InvalidInput(f"--out {args.out} is a file; give a folder for Grafana's provisioning files.")
    result = provision(args.out, push=args.push, embed_password=args.embed_password,
                       mysql_address=args.mysql_address, dashboards_path=args.dashboards_path)
    folder = result.files[0].parents[2]
    out(f"Grafana provisioning files written to {folder}:")
    for f in result.files:
        out(f"  {f.relative_to(folder)}")
    if not args.embed_password:
        out(f"Grafana reads the reader's password from its environment variable {PASSWORD_ENV}.")
    if result.push:
        out(result.push.describe())
    else:
        out(f"Grafana itself was not updated ({result.skipped_push_reason}).")
    audit_host("grafana.provision", str(folder), "pushed" if result.push else "files only")
    return 0


def _check(args: argparse.Namespace) -> int:
    from services.clock import Clock
    from services.errors import DatabaseError
    from services.reach.grafana import reader_connection
    from services.reach.grafana_check import check_dashboard_queries

    results = check_dashboard_queries(reader_connection().url, args.patient, args.days,
                                      now=Clock.from_environ(os.environ).utcnow())
    for r in results:
        out(r.line())
    failed = sum(not r.ok for r in results)
    if failed:
        raise DatabaseError(f"{failed} of {len(results)} dashboard queries failed; see above.")
    out(f"All {len(results)} dashboard queries run as the read-only account.")
    return 0


def _url(args: argparse.Namespace) -> int:
    from services.reach.grafana import grafana_base_url, open_in_grafana_url
    from services.reach.grafana_dashboards import CLINIC_SLUG, CLINIC_UID
    from services.secrets import SecretStore

    base = args.base or grafana_base_url(SecretStore())
    if args.patient:
        from services.cli.common import opened_app

        with opened_app() as app:
            row_id = app.patients.row_id(args.patient)
        out(open_in_grafana_url(base, row_id))
    else:
        out(f"{base.rstrip('/')}/d/{CLINIC_UID}/{CLINIC_SLUG}")
    return 0
