"""A password store that does not keep what it is given is refused like "no keyring" (issue 12,
item 5), also when chosen with PYTHON_KEYRING_BACKEND, before anything is connected."""

from __future__ import annotations

import socket
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from services.errors import SecretsUnavailable
from services.secrets import NO_KEYRING, SERVICE, SecretStore
from tests.support.keyrings import MemoryKeyring

EXPLICIT = {"PYTHON_KEYRING_BACKEND": "chosen explicitly"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Forgetful(KeyringBackend):
    """Accepts every write, gives back something else (a broken or misconfigured store)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return "not what you stored"

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        return None


@pytest.mark.parametrize("backend", [null.Keyring, fail.Keyring, Forgetful])
def test_explicit_backend_that_does_not_keep_secrets_is_refused(backend: Any) -> None:
    keyring.set_keyring(backend())
    store = SecretStore(EXPLICIT)
    with pytest.raises(SecretsUnavailable) as refused:
        store.set("POLAR_CLIENT_SECRET", "s3cret-value")
    assert refused.value.message == NO_KEYRING
    with pytest.raises(SecretsUnavailable):
        store.get("POLAR_CLIENT_SECRET")


def test_explicit_backend_that_keeps_secrets_is_used_and_left_clean() -> None:
    keyring.set_keyring(MemoryKeyring())
    store = SecretStore(EXPLICIT)
    store.set("POLAR_CLIENT_SECRET", "s3cret-value")
    assert store.get("POLAR_CLIENT_SECRET") == "s3cret-value"
    assert list(MemoryKeyring._store) == [(SERVICE, "POLAR_CLIENT_SECRET")]  # the probe was removed


def test_connect_with_a_null_keyring_fails_first_and_leaves_no_patient(run_cli: Any, db_url: str) -> None:
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "WEARSYNC_DATABASE_URL": db_url,
           "FITBIT_CLIENT_ID": "invented-client", "FITBIT_CLIENT_SECRET": "invented-secret",
           "WEARSYNC_CALLBACK_PORT": str(free_port())}
    r = run_cli("connect", "fitbit", "P-900", "--no-browser", "--timeout", "5", env=env)
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""  # no consent address was handed out
    assert r.stderr.strip().splitlines() == ["wearsync: " + NO_KEYRING]
    listed = run_cli("patients", "list", env={"WEARSYNC_DATABASE_URL": db_url})
    assert listed.returncode == 0 and "P-900" not in listed.stdout


def test_no_allowed_keyring_is_refused_at_every_read_and_logged_once(caplog, monkeypatch) -> None:
    """Every read asks again (a keyring may be unlocked or installed meanwhile) and is refused, but the
    log says so once, not at every read (the window reads secrets every few seconds)."""
    import logging

    from keyrings.alt.file import PlaintextKeyring

    import services.secrets as secrets_module

    monkeypatch.setattr(secrets_module, "_REPORTED_MISSING", set())
    keyring.set_keyring(PlaintextKeyring())  # a file in plain text: never chosen silently
    store = SecretStore({})  # no PYTHON_KEYRING_BACKEND: WearSync chooses among the allowed ones
    with caplog.at_level(logging.DEBUG, logger="services.secrets"):
        for _ in range(5):
            with pytest.raises(SecretsUnavailable):
                store.get("POLAR_CLIENT_SECRET")
    said = [r for r in caplog.records if "no allowed keyring backend" in r.getMessage()]
    assert len(said) == 5 and [r.levelno for r in said].count(logging.WARNING) == 1
