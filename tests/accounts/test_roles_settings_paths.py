"""The last settings paths a person can take — tunnel settings, the Grafana box, the daily time —
refuse a role without the permission (nothing stored) and audit an administrator's change."""

from __future__ import annotations

import pytest

from services.accounts.actor import Actor
from services.errors import PermissionDenied
from services.reach.tunnel_setup import save_options

ADMIN = Actor("ada.admin", "admin", "gui")
COORDINATOR = Actor("cora.coord", "coordinator", "gui")


def _tunnel(app, actor):  # type: ignore[no-untyped-def]
    return save_options(app, start_with_app=True, domain="clinic-x.ngrok-free.app", ngrok_path="",
                        grafana_user="", allow_cidrs="", authtoken="tok-invented-123", actor=actor)


def test_tunnel_settings_need_the_tunnel_permission(sqlite_app) -> None:
    with pytest.raises(PermissionDenied):
        _tunnel(sqlite_app, COORDINATOR)
    assert sqlite_app.settings.get("ngrok_domain") == "" and not sqlite_app.secrets.get("NGROK_AUTHTOKEN")
    _tunnel(sqlite_app, ADMIN)
    assert sqlite_app.settings.get("ngrok_domain") == "clinic-x.ngrok-free.app"
    audit = [(e.actor, e.action, e.target) for e in sqlite_app.audit.entries()]
    assert ("ada.admin", "secret.changed", "NGROK_AUTHTOKEN") in audit
    assert any(a == "ada.admin" and t == "ngrok_domain" for a, _, t in audit)
    assert "tok-invented-123" not in sqlite_app.audit.to_csv()


def test_grafana_box_stores_as_the_signed_in_person(sqlite_app) -> None:
    from gui.pages.settings.grafana import save

    with pytest.raises(PermissionDenied):
        save(sqlite_app, "http://localhost:3000", "glsa_invented", COORDINATOR)
    assert not sqlite_app.secrets.get("GRAFANA_URL")
    save(sqlite_app, "http://localhost:3000", "glsa_invented", ADMIN)
    changed = [e.target for e in sqlite_app.audit.entries() if e.action == "secret.changed"]
    assert changed == ["GRAFANA_URL", "GRAFANA_API_TOKEN"]


def test_daily_time_change_needs_settings_permission(sqlite_app) -> None:
    with pytest.raises(PermissionDenied):
        sqlite_app.settings.set("sync_time", "02:30", actor=COORDINATOR)
    assert sqlite_app.settings.get("sync_time") == "00:00"
    sqlite_app.settings.set("sync_time", "02:30", actor=ADMIN)
    assert sqlite_app.settings.get("sync_time") == "02:30"
