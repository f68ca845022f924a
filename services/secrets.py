"""The one wrapper around the OS keyring.

- Automatic backend choice is limited to an allow-list of real OS stores (Secret Service, KWallet,
  macOS Keychain, Windows Credential Locker). A backend chosen explicitly with keyring's own
  `PYTHON_KEYRING_BACKEND` variable is used (tests, CI) only if it keeps what it is given: the null
  and fail backends, and any whose write/read round trip fails, are refused like "no keyring".
- "No store on this machine" and "the store is locked" are different errors with different fixes.
- There is never a silent plaintext fallback.
- An environment variable with a secret's name takes precedence, so scripted runs need no keyring.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from services.errors import InvalidInput, MissingSecret, SecretsLocked, SecretsUnavailable
from services.secret_specs import SECRETS as SECRETS  # re-exported: the names live apart from the keyring
from services.secret_specs import SPEC_BY_NAME as SPEC_BY_NAME
from services.secret_specs import SecretSpec as SecretSpec

log = logging.getLogger(__name__)

SERVICE = "WearSync"
# sandbox mode reads its own (empty) namespace: the real keyring's ngrok token, vendor clients or mail
# password are never used by a demo window (and it writes nowhere, see _refuse_in_sandbox)
SANDBOX_SERVICE = "WearSync (sandbox)"

NO_KEYRING = (
    "WearSync keeps passwords and tokens in the computer's secure password store, and none "
    "is available here. On Linux install and start GNOME Keyring or KWallet (package "
    "gnome-keyring); on Windows and macOS it is built in. For scripts, put each secret in an "
    "environment variable of the same name instead."
)
LOCKED = ("The computer's password store is locked. Unlock it (log in to the desktop session "
          "or open the keyring app) and try again.")
# backends that never keep a secret: refused even when chosen explicitly
NON_PERSISTENT_BACKENDS = ("keyring.backends.null.Keyring", "keyring.backends.fail.Keyring",
                           "keyring.backends.chainer.ChainerBackend")
PROBE_PREFIX = "wearsync-probe-"

ALLOWED_BACKENDS = (
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.macOS.Keyring",
    "keyring.backends.Windows.WinVaultKeyring",
)


# Internal secrets: not shown on the Settings page, never imported from the seed's variables.
TOKEN_KEY = "WEARSYNC_TOKEN_KEY"
# The MySQL owner (schema changes only), kept apart from the writer: no admin can reveal it in the window.
DB_OWNER_USER = "WEARSYNC_DB_OWNER_USER"
DB_OWNER_PASSWORD = "WEARSYNC_DB_OWNER_PASSWORD"
INTERNAL = (TOKEN_KEY, DB_OWNER_USER, DB_OWNER_PASSWORD)


#: the sets of keyring backends already reported as unusable by this process (the log says each once)
_REPORTED_MISSING: set[str] = set()


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def mask(value: str) -> str:
    if not value:
        return ""
    if len(value) <= 6:
        return "•" * len(value)
    return value[:2] + "•" * min(12, len(value) - 4) + value[-2:]


@dataclass(frozen=True)
class SecretState:
    spec: SecretSpec
    source: str  # environment | keyring | missing
    masked: str


class SecretStore:
    """Loads the backend lazily under a lock and remembers it."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else os.environ
        self._lock = threading.Lock()
        self._backend: KeyringBackend | None = None
        self.checkers: dict[str, Callable[[str], str]] = {}
        self.service = SANDBOX_SERVICE if self._environ.get("WEARSYNC_SANDBOX") == "1" else SERVICE

    # -- backend
    def backend(self) -> KeyringBackend:
        with self._lock:
            if self._backend is None:
                self._backend = self._choose()
            return self._backend

    def _choose(self) -> KeyringBackend:
        explicit = self._environ.get("PYTHON_KEYRING_BACKEND")
        current: KeyringBackend = keyring.get_keyring()
        if explicit:
            self._check_persists(current)
            return current
        candidates: list[KeyringBackend] = list(getattr(current, "backends", [current]))
        for b in candidates:
            if _backend_name(b) in ALLOWED_BACKENDS:
                return b
        names = ", ".join(_backend_name(b) for b in candidates) or "none"
        # asked again at every secret read (a keyring may be unlocked or installed meanwhile): said once
        (log.debug if names in _REPORTED_MISSING else log.warning)("no allowed keyring backend; found: %s", names)
        _REPORTED_MISSING.add(names)
        raise SecretsUnavailable(NO_KEYRING)

    def _check_persists(self, backend: KeyringBackend) -> None:
        """An explicitly chosen backend must give back what it was given (null and fail do not)."""
        name = _backend_name(backend)
        chained = list(getattr(backend, "backends", None) or [backend])
        if all(_backend_name(b) in NON_PERSISTENT_BACKENDS for b in chained):
            log.warning("keyring backend %s cannot keep secrets; refused", name)
            raise SecretsUnavailable(NO_KEYRING)
        if self._environ.get("WEARSYNC_SANDBOX") == "1":
            return  # the sandbox never writes to the keyring, not even a probe
        probe = PROBE_PREFIX + secrets.token_hex(6)
        value = secrets.token_urlsafe(16)
        try:
            backend.set_password(SERVICE, probe, value)
            ok = backend.get_password(SERVICE, probe) == value
        except keyring.errors.KeyringLocked:
            raise SecretsLocked(LOCKED) from None
        except Exception as exc:
            log.warning("keyring backend %s failed a write/read check (%s); refused", name, type(exc).__name__)
            raise SecretsUnavailable(NO_KEYRING) from None
        finally:
            with contextlib.suppress(Exception):
                backend.delete_password(SERVICE, probe)
        if not ok:
            log.warning("keyring backend %s did not give back what it was given; refused", name)
            raise SecretsUnavailable(NO_KEYRING)

    # -- reading and writing
    def source(self, name: str) -> str:
        if self._environ.get(name):
            return "environment"
        try:
            return "keyring" if self._read(name) else "missing"
        except (SecretsUnavailable, SecretsLocked):
            return "missing"

    def get(self, name: str) -> str | None:
        env = self._environ.get(name)
        if env:
            return env
        return self._read(name)

    def require(self, name: str, purpose: str = "") -> str:
        value = self.get(name)
        if not value:
            spec = SPEC_BY_NAME.get(name)
            label = spec.label if spec else name
            why = f" to {purpose}" if purpose else ""
            raise MissingSecret(
                f"{label} is not set. WearSync needs it{why}: add it in Settings → Secrets "
                f"(or set the environment variable {name})."
            )
        return value

    def set(self, name: str, value: str) -> None:
        self._check_name(name)
        self._refuse_in_sandbox()
        if not value or value != value.strip() or any(ord(c) < 32 for c in value):
            raise InvalidInput(
                "A secret cannot be empty, start or end with spaces, or contain line breaks."
            )
        self._call(lambda b: b.set_password(self.service, name, value))
        log.info("secret %s stored in the keyring", name)

    def delete(self, name: str) -> bool:
        self._check_name(name)
        self._refuse_in_sandbox()
        try:
            self._call(lambda b: b.delete_password(self.service, name))
        except keyring.errors.PasswordDeleteError:
            return False
        log.info("secret %s removed from the keyring", name)
        return True

    def states(self) -> list[SecretState]:
        out = []
        for spec in SECRETS:
            src = self.source(spec.name)
            value = self.get(spec.name) if src != "missing" else ""
            shown = mask(value or "") if spec.sensitive else (value or "")
            out.append(SecretState(spec, src, shown))
        return out

    def reveal(self, name: str) -> str:
        if name not in SPEC_BY_NAME:  # internal secrets are never shown
            raise InvalidInput(f"{name!r} is not a WearSync secret that can be shown.")
        return self.get(name) or ""

    def import_from_environment(self, names: list[str] | None = None) -> list[str]:
        """Copy the seed's environment variables into the keyring; returns the names imported."""
        done = []
        for spec in SECRETS:
            if names is not None and spec.name not in names:
                continue
            value = self._environ.get(spec.name)
            if value:
                self.set(spec.name, value.strip())
                done.append(spec.name)
        return done

    def test(self, name: str) -> str:
        """Check a secret: its registered checker (e.g. an SMTP login) or that it reads back."""
        value = self.require(name)
        checker = self.checkers.get(name)
        if checker is not None:
            return checker(value)
        return "Stored and readable."

    # -- internals
    def _refuse_in_sandbox(self) -> None:
        # sandbox mode (services/sandbox/mode.py) shares the OS keyring with the real WearSync:
        # nothing from the demo may ever be written to it
        if self._environ.get("WEARSYNC_SANDBOX") == "1":
            raise InvalidInput("Sandbox mode never stores secrets: the simulated vendors need none. "
                               "Open WearSync without --sandbox to change the real ones.")

    def _check_name(self, name: str) -> None:
        if name not in SPEC_BY_NAME and name not in INTERNAL:
            raise InvalidInput(f"{name!r} is not a WearSync secret.")

    def _read(self, name: str) -> str | None:
        value = self._call(lambda b: b.get_password(self.service, name))
        return value if isinstance(value, str) else None

    def _call(self, fn: Callable[[KeyringBackend], Any]) -> Any:
        backend = self.backend()
        try:
            return fn(backend)
        except keyring.errors.KeyringLocked:
            raise SecretsLocked(LOCKED) from None
        except keyring.errors.NoKeyringError:
            raise SecretsUnavailable(NO_KEYRING) from None
        except keyring.errors.InitError as exc:
            raise SecretsUnavailable(f"The password store could not be opened: {exc}") from None
