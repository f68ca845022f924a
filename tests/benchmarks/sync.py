"""Benchmark: a whole sync against the sandbox vendors, beside the vendors' own quota-bound minimum.

    uv run python -m tests.benchmarks --only sync [--sync-patients N] [--sync-days D] [--latency-ms L]

**Real run**: N patients × 3 vendors (Fitbit through Google Health, Withings, Polar) × D patient-local
days, through `SyncService.sync_all` exactly as `main.py sync --start --end` runs it (its worker pool,
one queue per connection, the process-wide quota limiter on real time, the bulk upsert into SQLite),
against `SandboxServer` on 127.0.0.1 with its quotas and `latency_ms` added to every request. It
reports per vendor: requests, the wall time of the whole run, and the least time the same requests
can take — the larger of the **quota bound** (the vendor's documented windows, services/sync/quota.py,
applied to the requests actually made: a sliding window of `limit` requests per `seconds` lets request
k go at floor(k / limit) × seconds at the earliest) and the **network bound** (requests × latency /
workers, each connection's requests being sequential). Ratio = wall / that minimum (1.0 = as fast as
the vendors allow). It also measures WearSync's CPU per request (the process's, minus what the
in-process sandbox spent answering) and the rows and database bytes per
patient-day (docs/SCALING.md uses them).

**Simulated run** (N = 2,000 by default): no HTTP and no database. The project's own `QuotaLimiter`
runs on a fake clock, and the worker pool is simulated event by event: each worker takes the next
connection in `sync_all`'s order and makes that connection's requests one after another, each waiting
as the limiter says and then taking the measured latency plus the measured CPU per request. The
requests per connection are the real run's (per vendor, rounded up); CPU is one shared budget of the
machine's cores (the run cannot end before all its CPU is spent). What it answers: how long the
quotas make the sync, and at what N the host's CPU (ingest: parsing and upserting) would take longer.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import os
import socket
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VENDORS = ("fitbit", "polar", "withings")  # sync_all's order within a patient (by vendor name)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Europe/London")


@dataclass
class VendorFigures:
    vendor: str
    connections: int
    requests: int
    per_connection: list[int]
    quota_bound_s: float
    quota_window: str
    network_bound_s: float

    @property
    def minimum_s(self) -> float:
        return max(self.quota_bound_s, self.network_bound_s)

    @property
    def limited_by(self) -> str:
        return self.quota_window if self.quota_bound_s >= self.network_bound_s else "latency"


@dataclass
class RealRun:
    patients: int
    days: int
    latency_s: float
    workers: int
    wall_s: float
    cpu_s: float  # the process's CPU during the sync, minus what the in-process sandbox spent answering
    sandbox_cpu_s: float
    vendors: list[VendorFigures]
    rejected: int  # answers 429 / Withings 601 the sandbox gave (the limiter should prevent them all)
    ok: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written
    rows_by_vendor: dict[str, int] = field(default_factory=dict)
    db_bytes: int = 0
    dialect: str = "sqlite"

    @property
    def requests(self) -> int:
        return sum(v.requests for v in self.vendors)

    @property
    def minimum_s(self) -> float:
        return max((v.minimum_s for v in self.vendors), default=0.0)

    @property
    def cpu_per_request_s(self) -> float:
        return self.cpu_s / max(1, self.requests)


def quota_bound(vendor: str, per_connection: list[int], users: int) -> tuple[float, str]:
    """The least time the vendor's documented windows allow for these requests, and the window."""
    from services.sync.quota import _window_bound, windows_for

    best, name = 0.0, "none"
    for w in windows_for(vendor, users):
        n = max(per_connection, default=0) if w.per_user else sum(per_connection)
        t = _window_bound(n, w)
        if t > best:
            best, name = t, w.name
    return best, name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _table_counts(db: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from db.models import MEASUREMENT_TABLES

    out = {}
    with db.session() as s:
        for m in MEASUREMENT_TABLES:
            out[str(m.__tablename__)] = int(s.scalar(select(func.count()).select_from(m)) or 0)
    return out


def _rows_by_vendor(db: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from db.models import MEASUREMENT_TABLES

    out: Counter[str] = Counter()
    with db.session() as s:
        for m in MEASUREMENT_TABLES:
            vendor = getattr(m, "vendor", None)
            if vendor is None:
                continue
            for v, n in s.execute(select(vendor, func.count()).group_by(vendor)):
                out[str(v)] += int(n)
    return dict(out)


def _db_bytes(db: Any) -> int:
    """The database's size: SQLite's pages (the file once its write-ahead log is checkpointed), or
    InnoDB's data + index pages of the schema."""
    from sqlalchemy import text

    from db.models import MEASUREMENT_TABLES

    with db.engine.connect() as c:
        if db.dialect == "sqlite":
            return int(c.execute(text("PRAGMA page_count")).scalar() or 0) * int(
                c.execute(text("PRAGMA page_size")).scalar() or 0)
        for m in MEASUREMENT_TABLES:  # refresh the page counts information_schema reports
            c.execute(text(f"ANALYZE TABLE `{m.__tablename__}`")).all()
        return int(c.execute(text("SELECT SUM(data_length + index_length) FROM information_schema.TABLES "
                                  "WHERE table_schema = DATABASE()")).scalar() or 0)


def run_real(patients: int, days: int, latency_s: float, db_url: str | None = None) -> RealRun:
    """The real sync (see the module doc) on a fresh database (SQLite in a temporary data directory
    unless `db_url` names an empty MariaDB/MySQL database)."""
    import keyring

    from services.app import WearSync
    from services.sandbox import SandboxServer
    from tests.connect.conftest import connect
    from tests.support.keyrings import MemoryKeyring

    with tempfile.TemporaryDirectory(prefix="wearsync-syncbench-") as tmp:
        db_file = Path(tmp) / "bench.sqlite3"
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_CLIENT_ID", "_CLIENT_SECRET"))}
        env.update({"WEARSYNC_HOME": str(Path(tmp) / "home"), "WEARSYNC_DATABASE_URL": db_url or f"sqlite:///{db_file}",
                    "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.MemoryKeyring"})
        previous = keyring.get_keyring()
        keyring.set_keyring(MemoryKeyring())
        app = WearSync.open(env)
        srv = SandboxServer(seed=1, demo_users=False, clock=app.clock).start()
        try:
            app.environ.update(srv.environ())
            app.environ.update(srv.credentials_environ())
            app.environ["WEARSYNC_CALLBACK_PORT"] = str(_free_port())
            for i in range(patients):
                for vendor in VENDORS:
                    user = f"bench{i:04d}"
                    srv.add_user(vendor, user, ZONES[i % len(ZONES)], days=days + 7)
                    page = connect(app, srv, f"B-{i:04d}", vendor, user)
                    if not page.ok:
                        raise RuntimeError(f"connecting {vendor} for patient {i} failed")
            srv.clear_calls()
            srv.latency_s = latency_s
            srv.served_cpu_s = 0.0
            end = app.clock.today() - dt.timedelta(days=1)
            start = end - dt.timedelta(days=days - 1)
            cpu0, t0 = time.process_time(), time.perf_counter()
            result = app.sync.sync_all(start=start, end=end, trigger="benchmark")
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            srv.latency_s = 0.0
            sandbox_cpu = srv.served_cpu_s
            per_conn: dict[str, Counter[str]] = defaultdict(Counter)
            rejected = 0
            for c in srv.calls:
                if c.kind != "api":
                    continue
                per_conn[c.vendor][c.username or "?"] += 1
                rejected += c.status in (429, 601)
            workers = app.sync.max_workers
            figures = []
            for vendor in VENDORS:
                counts = list(per_conn[vendor].values())
                qb, qname = quota_bound(vendor, counts, patients)
                figures.append(VendorFigures(vendor, len(counts), sum(counts), counts, qb, qname,
                                             sum(counts) * latency_s / max(1, min(workers, len(counts)))))
            rows, by_vendor = _table_counts(app.db), _rows_by_vendor(app.db)
            size, dialect = _db_bytes(app.db), app.db.dialect
        finally:
            srv.stop()
            app.close()
            keyring.set_keyring(previous)
        return RealRun(patients, days, latency_s, workers, wall, max(0.0, cpu - sandbox_cpu), sandbox_cpu, figures,
                       rejected, all(r.ok for r in result.results), rows, by_vendor, size, dialect)


@dataclass
class Simulated:
    patients: int
    requests: int
    quota_s: float  # the simulated wall time (quota waits + latency + per-request CPU per worker)
    cpu_s: float  # the CPU the same requests need on this host (measured per request)
    minimum_s: float  # the least time the quotas and the latency allow for the same requests
    limited_by: str  # what sets that minimum: a vendor's quota window, or latency
    workers: int

    @property
    def wall_s(self) -> float:
        return max(self.quota_s, self.cpu_s)

    @property
    def bound_by(self) -> str:
        return "CPU" if self.cpu_s > self.quota_s else self.limited_by


def simulate(patients: int, per_connection: dict[str, int], latency_s: float, cpu_per_request_s: float,
             workers: int, cores: int) -> Simulated:
    """The worker pool and the real QuotaLimiter on a fake clock (see the module doc)."""
    from services.sync.quota import QuotaLimiter

    now = [0.0]
    limiter = QuotaLimiter(clock=lambda: now[0], sleep=lambda s: None, users={"polar": patients})
    queue = [(f"B-{i:05d}", v) for i in range(patients) for v in VENDORS if per_connection.get(v, 0) > 0]
    queue.reverse()
    # each worker: (time it is free, worker id, [connection, vendor, requests left] or None)
    current: dict[int, list[Any] | None] = {w: None for w in range(workers)}
    heap = [(0.0, w) for w in range(workers)]
    step = latency_s + cpu_per_request_s
    end = 0.0
    while heap:
        t, w = heapq.heappop(heap)
        now[0] = t
        job = current[w]
        if job is None or job[2] == 0:
            if not queue:
                end = max(end, t)
                continue
            key, vendor = queue.pop()
            job = current[w] = [key, vendor, per_connection[vendor]]
        wait = limiter.try_acquire(job[1], job[0])
        if wait > 0:
            heapq.heappush(heap, (t + wait, w))
            continue
        job[2] -= 1
        heapq.heappush(heap, (t + step, w))
    total = sum(per_connection.get(v, 0) for v in VENDORS) * patients
    minimum, limited_by = total * latency_s / max(1, min(workers, patients * 3)), "latency"
    for v in VENDORS:
        if per_connection.get(v, 0) > 0:
            qb, name = quota_bound(v, [per_connection[v]] * patients, patients)
            if qb > minimum:
                minimum, limited_by = qb, f"{v} {name}"
    return Simulated(patients, total, end, total * cpu_per_request_s / max(1, cores), minimum, limited_by,
                     workers)


def run(patients: int, days: int, latency_ms: float, simulate_patients: tuple[int, ...],
        mysql_admin: str | None = None) -> list[str]:
    """The whole benchmark as printable lines: the real run on SQLite (and MariaDB when `mysql_admin`
    is given), then the simulated runs from the SQLite run's figures."""
    real = run_real(patients, days, latency_ms / 1000.0)
    lines = _real_lines(real, latency_ms)
    if mysql_admin:
        import uuid

        import sqlalchemy as sa

        name = f"wearsync_syncbench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(mysql_admin, poolclass=sa.NullPool)
        with admin.begin() as c:
            c.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        try:
            lines += _real_lines(run_real(patients, days, latency_ms / 1000.0, mysql_admin.rstrip("/") + "/" + name),
                                 latency_ms)
        finally:
            with admin.begin() as c:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            admin.dispose()
    return lines + _simulated_lines(real, latency_ms, simulate_patients)


def _real_lines(real: RealRun, latency_ms: float) -> list[str]:
    patients, days = real.patients, real.days
    db_name = "SQLite" if real.dialect == "sqlite" else "MariaDB"
    lines = [f"real: {patients} patients x 3 vendors x {days} days, {latency_ms:.0f} ms per request, "
             f"{real.workers} workers, {db_name}; all downloads ok: {real.ok}; 429s answered: {real.rejected}",
             f"{'vendor':<9} {'conns':>6} {'requests':>9} {'quota bound':>12} {'network bound':>14} "
             f"{'limited by':<20} {'wall':>9} {'ratio':>6}"]
    for v in real.vendors:
        lines.append(f"{v.vendor:<9} {v.connections:>6} {v.requests:>9,} {v.quota_bound_s:>10.1f} s "
                     f"{v.network_bound_s:>12.1f} s {v.limited_by:<20} {'':>9} {'':>6}")
    lines.append(f"{'all':<9} {sum(v.connections for v in real.vendors):>6} {real.requests:>9,} "
                 f"{'':>12} {'':>14} {'slowest vendor':<20} {real.wall_s:>7.1f} s "
                 f"{real.wall_s / max(real.minimum_s, 1e-9):>6.2f}")
    patient_days = patients * days
    rows = sum(real.rows.values())
    lines.append(f"WearSync CPU {real.cpu_s:.1f} s = {real.cpu_per_request_s * 1000:.1f} ms per request "
                 f"(the in-process sandbox's {real.sandbox_cpu_s:.1f} s taken out); "
                 f"{rows:,} rows written ({rows / max(1, patient_days):,.0f} per patient-day, 3 vendors); "
                 f"{db_name} size {real.db_bytes / 2**20:.1f} MiB "
                 f"({real.db_bytes / max(1, patient_days) / 1024:.0f} KiB per patient-day)")
    lines.append("rows per patient-day by vendor: " + ", ".join(
        f"{v} {real.rows_by_vendor.get(v, 0) / max(1, patient_days):,.0f}" for v in VENDORS))
    lines.append("rows per patient-day by table: " + ", ".join(
        f"{t} {n / max(1, patient_days):,.1f}" for t, n in real.rows.items() if n))
    return lines


def _simulated_lines(real: RealRun, latency_ms: float, simulate_patients: tuple[int, ...]) -> list[str]:
    lines = []
    per_conn = {v.vendor: math.ceil(v.requests / max(1, v.connections)) for v in real.vendors if v.connections}
    cores = os.cpu_count() or 1
    lines.append(f"simulated (QuotaLimiter on a fake clock, {real.workers} simulated workers, "
                 f"requests per connection {per_conn}, {latency_ms:.0f} ms + "
                 f"{real.cpu_per_request_s * 1000:.1f} ms CPU per request, {cores} cores):")
    lines.append(f"{'patients':>9} {'requests':>9} {'quota minimum':>14} {'simulated':>11} {'CPU needed':>11} "
                 f"{'bound by':<28} {'ratio':>6}")
    for n in simulate_patients:
        s = simulate(n, per_conn, real.latency_s, real.cpu_per_request_s, real.workers, cores)
        lines.append(f"{n:>9,} {s.requests:>9,} {_dur(s.minimum_s):>14} {_dur(s.quota_s):>11} "
                     f"{_dur(s.cpu_s):>11} {s.bound_by:<28} {s.wall_s / max(s.minimum_s, 1e-9):>6.2f}")
    return lines


def _dur(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
