"""The callback listener against slow and rude clients (issue 12): a client trickling its request is cut
off at the request deadline, stopping the listener closes open connections within 5 seconds, and a
client that hangs up early leaves one log line, not a traceback."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from services.connect import callback_server
from services.connect.callback_server import CallbackServer


class _Target:
    """Never reached: these clients never finish a request."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the listener should not have called {name}")


@pytest.fixture
def listener() -> Iterator[CallbackServer]:
    srv = CallbackServer(_Target(), 0).start()  # type: ignore[arg-type]
    try:
        yield srv
    finally:
        srv.stop()


def _connect(srv: CallbackServer) -> socket.socket:
    c = socket.create_connection((srv.host, srv.port), timeout=10)
    c.sendall(b"GET /enrol/x HTTP/1.1\r\n")
    return c


def _closed_by_server(c: socket.socket, within: float, trickle: bool) -> float | None:
    """Seconds until the server closed the connection (None if still open after `within`),
    optionally sending one header byte every 0.2 s meanwhile."""
    start = time.monotonic()
    c.settimeout(0.2)
    while time.monotonic() - start < within:
        try:
            if trickle:
                c.send(b"X")
            if c.recv(1024) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed
            return time.monotonic() - start
    return None


def test_a_trickling_client_is_cut_off_at_the_request_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback_server, "REQUEST_DEADLINE_S", 1.0)
    srv = CallbackServer(_Target(), 0).start()  # type: ignore[arg-type]
    try:
        c = _connect(srv)
        took = _closed_by_server(c, within=6.0, trickle=True)
        c.close()
        assert took is not None and took < 4.0, took
    finally:
        srv.stop()


def test_stopping_closes_open_connections_within_5_seconds(listener: CallbackServer,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="services.connect.callback_server")
    idle = socket.create_connection((listener.host, listener.port), timeout=10)  # sends nothing at all
    slow = _connect(listener)  # sends half a request
    time.sleep(0.3)
    stopped = threading.Event()
    took: list[float] = []

    def stop() -> None:
        t0 = time.monotonic()
        listener.stop()
        took.append(time.monotonic() - t0)
        stopped.set()

    threading.Thread(target=stop, daemon=True).start()
    assert _closed_by_server(slow, within=6.0, trickle=False) is not None
    assert _closed_by_server(idle, within=6.0, trickle=False) is not None
    assert stopped.wait(8) and took[0] < 5.0, took
    idle.close()
    slow.close()
    # the half request cut off by the stop is not answered, and nothing logs a traceback
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


class _SlowPage:
    """Answers the enrolment introduction after a moment (time for the visitor to leave)."""

    def clinic(self) -> Any:
        from services.connect.patient_pages import Clinic

        return Clinic()

    def enrolment_intro(self, token: str) -> Any:
        from services.connect.patient_pages import Clinic, simple

        time.sleep(0.5)
        return simple(Clinic(), "root")


def test_a_visitor_leaving_while_answered_leaves_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="services.connect.callback_server")
    srv = CallbackServer(_SlowPage(), 0).start()  # type: ignore[arg-type]
    try:
        c = socket.create_connection((srv.host, srv.port), timeout=10)
        c.sendall(b"GET /enrol/some-link HTTP/1.0\r\n\r\n")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # gone before the page is sent
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not [r for r in caplog.records if "ended early" in r.getMessage()]:
            time.sleep(0.05)
    finally:
        srv.stop()
    records = [r for r in caplog.records if r.name == "services.connect.callback_server"]
    assert any("ended early" in r.getMessage() for r in records), [r.getMessage() for r in records]
    assert not [r for r in records if r.exc_info], [r.getMessage() for r in records]


def test_a_client_hanging_up_early_leaves_one_line(listener: CallbackServer, caplog: pytest.LogCaptureFixture,
                                                   ) -> None:
    caplog.set_level(logging.DEBUG, logger="services.connect.callback_server")
    c = _connect(listener)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    time.sleep(0.2)
    c.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not caplog.records:
        time.sleep(0.05)
    records = [r for r in caplog.records if r.name == "services.connect.callback_server"]
    assert records, "the early hang-up was not logged at all"
    for r in records:
        assert r.exc_info is None and "\n" not in r.getMessage(), r.getMessage()
