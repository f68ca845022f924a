"""Secrets changed or viewed by a person (Settings → Secrets): the role check and the audit entry.

SecretStore (services/secrets.py) is the keyring itself and knows nobody; the CLI (the host's owner)
and internal code use it directly. Every call here first refuses a role without "secrets", then does
the work, then records who did it. The audit entry names the secret, never its value.
"""

from __future__ import annotations

from typing import Protocol

from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.secrets import SecretStore


class SecretsHost(Protocol):
    """What changing a secret needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def secrets(self) -> SecretStore: ...
    @property
    def audit(self) -> AuditLog: ...


def set_secret(app: SecretsHost, actor: Actor, name: str, value: str) -> None:
    actor.require("secrets")
    app.secrets.set(name, value)
    app.audit.record(actor, "secret.changed", name, "stored in the keyring")


def delete_secret(app: SecretsHost, actor: Actor, name: str) -> bool:
    actor.require("secrets")
    removed = app.secrets.delete(name)
    if removed:
        app.audit.record(actor, "secret.changed", name, "removed from the keyring")
    return removed


def reveal_secret(app: SecretsHost, actor: Actor, name: str) -> str:
    actor.require("secrets")
    value = app.secrets.reveal(name)
    app.audit.record(actor, "secret.viewed", name)
    return value


def import_secrets(app: SecretsHost, actor: Actor, names: list[str] | None = None) -> list[str]:
    actor.require("secrets")
    done = app.secrets.import_from_environment(names)
    for name in done:
        app.audit.record(actor, "secret.changed", name, "imported from the environment")
    return done


class _SecretsWithAlerts(SecretsHost, Protocol):
    @property
    def alerts(self) -> object: ...  # built on first use; building it registers the mail checker
    @property
    def vendors(self) -> object: ...  # likewise the vendors' client checks


def test_secret(app: _SecretsWithAlerts, actor: Actor, name: str) -> str:
    """Check one secret with its registered checker (the mail login for the sender password, a token request
    with a made-up code for a vendor's client ID or secret) or
    that it reads back; the result in one sentence. The alert service registers its checkers when it is
    built, so it is built first."""
    actor.require("secrets")
    _ = app.alerts
    _ = app.vendors
    result = app.secrets.test(name)
    app.audit.record(actor, "secret.tested", name)
    return result
