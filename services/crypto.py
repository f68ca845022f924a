"""Encryption at rest for OAuth tokens: Fernet, with its key held in the OS keyring."""

from __future__ import annotations

import json
import threading
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from services.errors import WearSyncError
from services.secrets import TOKEN_KEY, SecretStore


class TokenKeyLost(WearSyncError):
    title = "Stored connections cannot be read"


class TokenCipher:
    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets
        self._lock = threading.Lock()
        self._fernet: Fernet | None = None

    def _get(self) -> Fernet:
        with self._lock:
            if self._fernet is None:
                key = self._secrets.get(TOKEN_KEY)
                if not key:
                    key = Fernet.generate_key().decode("ascii")
                    self._secrets.set(TOKEN_KEY, key)
                self._fernet = Fernet(key.encode("ascii"))
            return self._fernet

    def ensure_key(self) -> None:
        """Load (or create and store) the key now: SecretsUnavailable/SecretsLocked before anything is
        changed when the password store cannot keep it."""
        self._get()

    def encrypt(self, payload: dict[str, Any]) -> bytes:
        return self._get().encrypt(json.dumps(payload, sort_keys=True).encode("utf-8"))

    def decrypt(self, blob: bytes) -> dict[str, Any]:
        try:
            data = json.loads(self._get().decrypt(bytes(blob)).decode("utf-8"))
        except InvalidToken:
            raise TokenKeyLost(
                "The key that protects stored vendor tokens is not the one they were saved with "
                "(the password store was reset or the database came from another computer). "
                "Reconnect the affected patients."
            ) from None
        assert isinstance(data, dict)
        return data

    def encrypt_text(self, text: str) -> bytes:
        return self._get().encrypt(text.encode("utf-8"))

    def decrypt_text(self, blob: bytes) -> str:
        try:
            return self._get().decrypt(bytes(blob)).decode("utf-8")
        except InvalidToken:
            raise TokenKeyLost("A stored value could not be decrypted with this computer's key.") from None
