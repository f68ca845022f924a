"""The keyring wrapper: env precedence, masking, clear errors, never a plaintext fallback."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from services.crypto import TokenCipher
from services.errors import InvalidInput, MissingSecret, SecretsLocked, SecretsUnavailable
from services.secrets import SecretStore, mask


def test_set_get_delete_and_mask() -> None:
    store = SecretStore({"PYTHON_KEYRING_BACKEND": "x"})
    store.set("WITHINGS_CLIENT_SECRET", "s3cr3t-value-123")
    assert store.get("WITHINGS_CLIENT_SECRET") == "s3cr3t-value-123"
    state = {s.spec.name: s for s in store.states()}["WITHINGS_CLIENT_SECRET"]
    assert state.source == "keyring" and "s3cr3t" not in state.masked and state.masked.startswith("s3")
    assert store.delete("WITHINGS_CLIENT_SECRET") is True
    assert store.get("WITHINGS_CLIENT_SECRET") is None
    assert store.delete("WITHINGS_CLIENT_SECRET") is False
    assert mask("abc") == "•••"


def test_environment_takes_precedence_and_imports() -> None:
    env = {"PYTHON_KEYRING_BACKEND": "x", "POLAR_CLIENT_ID": "from-env", "EMAIL_LIST": '["a@b.org"]'}
    store = SecretStore(env)
    store.set("POLAR_CLIENT_ID", "from-keyring")
    assert store.get("POLAR_CLIENT_ID") == "from-env"
    assert store.source("POLAR_CLIENT_ID") == "environment"
    assert set(store.import_from_environment()) == {"POLAR_CLIENT_ID", "EMAIL_LIST"}
    assert SecretStore({"PYTHON_KEYRING_BACKEND": "x"}).get("POLAR_CLIENT_ID") == "from-env"


def test_bad_input_is_refused() -> None:
    store = SecretStore({"PYTHON_KEYRING_BACKEND": "x"})
    with pytest.raises(InvalidInput):
        store.set("NOT_A_SECRET", "v")
    with pytest.raises(InvalidInput):
        store.set("POLAR_CLIENT_ID", " padded ")
    with pytest.raises(MissingSecret, match="Settings"):
        store.require("POLAR_CLIENT_SECRET", "connect Polar")


def test_no_backend_is_a_clear_error_not_a_plaintext_fallback() -> None:
    keyring.set_keyring(fail.Keyring())
    store = SecretStore({})
    with pytest.raises(SecretsUnavailable, match="secure password store"):
        store.set("POLAR_CLIENT_SECRET", "x")
    assert SecretStore({"POLAR_CLIENT_SECRET": "env"}).get("POLAR_CLIENT_SECRET") == "env"


def test_plaintext_backend_is_not_chosen_automatically() -> None:
    from keyrings.alt.file import PlaintextKeyring  # type: ignore[import-not-found]

    keyring.set_keyring(PlaintextKeyring())
    with pytest.raises(SecretsUnavailable):
        SecretStore({}).backend()


def test_locked_keyring_says_unlock() -> None:
    class Locked(keyring.backend.KeyringBackend):
        priority = 1

        def get_password(self, s, u):
            raise keyring.errors.KeyringLocked("locked")

        def set_password(self, s, u, p):
            raise keyring.errors.KeyringLocked("locked")

        def delete_password(self, s, u):
            raise keyring.errors.KeyringLocked("locked")

    keyring.set_keyring(Locked())
    store = SecretStore({"PYTHON_KEYRING_BACKEND": "x"})
    with pytest.raises(SecretsLocked, match="Unlock"):
        store.set("POLAR_CLIENT_SECRET", "x")


def test_tokens_are_encrypted_with_a_key_in_the_keyring() -> None:
    store = SecretStore({"PYTHON_KEYRING_BACKEND": "x"})
    blob = TokenCipher(store).encrypt({"access_token": "tok-abc", "refresh_token": "ref-xyz"})
    assert b"tok-abc" not in blob and b"ref-xyz" not in blob
    assert TokenCipher(store).decrypt(blob)["access_token"] == "tok-abc"
    keyring.get_keyring().delete_password("WearSync", "WEARSYNC_TOKEN_KEY")
    from services.crypto import TokenKeyLost

    with pytest.raises(TokenKeyLost, match="Reconnect"):
        TokenCipher(store).decrypt(blob)
