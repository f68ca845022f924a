"""The sandbox's added latency per request (used by the sync benchmark, tests/benchmarks/sync.py)."""

from __future__ import annotations

import time

import requests

from services.sandbox import SandboxServer

from .conftest import TODAY


def _round_trip(srv: SandboxServer) -> float:
    t0 = time.perf_counter()
    r = requests.get(srv.base_url + "/polar/v3/exercises", timeout=10)  # answered 401: no token needed
    assert r.status_code == 401
    return time.perf_counter() - t0


def test_latency_is_added_to_every_answer_and_can_change_while_running() -> None:
    with SandboxServer(seed=1, today=TODAY, demo_users=False, latency_s=0.3) as srv:
        assert _round_trip(srv) >= 0.3
        srv.latency_s = 0.0
        assert min(_round_trip(srv) for _ in range(3)) < 0.3
        assert srv.served_cpu_s > 0, "the sandbox counts the CPU it spent answering"
