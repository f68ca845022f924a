"""Provisioning files, the HTTP API push (against a stand-in Grafana), errors in plain words,
"Open in Grafana" and the CLI."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from services import config
from services.errors import InvalidInput, MissingSecret
from services.reach.grafana import (
    GrafanaError,
    ReaderConnection,
    grafana_base_url,
    open_in_grafana_url,
    provision,
    push_to_grafana,
    reader_connection,
    write_provisioning,
)
from services.reach.grafana_dashboards import DATASOURCE_UID, PATIENT_UID
from services.secrets import SecretStore
from tests.fakes.fake_grafana import FakeGrafana

READER = ReaderConnection("127.0.0.1", 3306, "wearsync", "wearsync_reader", "Rd-pass$word_123")


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana().start()
    yield fake
    fake.stop()


@pytest.fixture
def on_mysql() -> SecretStore:
    """WearSync configured for MySQL (no server needed: provisioning only reads the address)."""
    config.write_config_file({"database_url": "mysql+pymysql://wearsync_writer@db.clinic.lan:3307/wearsync"})
    store = SecretStore()
    store.set("SECRET_PASSWORD", "writer-secret-123")
    store.set("GRAFANA_DB_USER", "wearsync_reader")
    store.set("GRAFANA_DB_PASSWORD", "Rd-pass$word_123")
    return store


def test_files_have_the_documented_layout_and_the_reader_account(tmp_path: Path) -> None:
    files = write_provisioning(tmp_path / "g", READER)
    names = sorted(str(f.relative_to(tmp_path / "g")) for f in files)
    assert names == ["dashboards/wearsync-clinic.json", "dashboards/wearsync-patient.json",
                     "provisioning/dashboards/wearsync.yaml", "provisioning/datasources/wearsync.yaml"]
    ds_text = (tmp_path / "g/provisioning/datasources/wearsync.yaml").read_text()
    assert "Rd-pass" not in ds_text  # a reference, not the password
    ds = yaml.safe_load(ds_text)["datasources"][0]
    assert ds["uid"] == DATASOURCE_UID and ds["type"] == "mysql" and ds["user"] == "wearsync_reader"
    assert ds["url"] == "127.0.0.1:3306" and ds["jsonData"]["database"] == "wearsync"
    assert ds["jsonData"]["timezone"] == "+00:00"
    assert ds["secureJsonData"]["password"] == "${GRAFANA_DB_PASSWORD}"
    provider = yaml.safe_load((tmp_path / "g/provisioning/dashboards/wearsync.yaml").read_text())["providers"][0]
    assert provider["type"] == "file" and Path(provider["options"]["path"]) == (tmp_path / "g/dashboards").resolve()
    for f in files:
        if f.suffix == ".json":
            assert json.loads(f.read_text())["uid"].startswith("wearsync-")


def test_embedded_password_escapes_dollars_and_is_private(tmp_path: Path) -> None:
    write_provisioning(tmp_path, READER, embed_password=True)
    path = tmp_path / "provisioning/datasources/wearsync.yaml"
    assert yaml.safe_load(path.read_text())["datasources"][0]["secureJsonData"]["password"] == "Rd-pass$$word_123"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_files_for_grafana_stay_readable_under_the_private_umask(tmp_path: Path) -> None:
    """WearSync runs with umask 077 (its data folder is owner-only); Grafana, another user, must
    still read what `grafana provision --out` writes outside that folder, but not inside it."""
    old = os.umask(0o077)
    try:
        shared = write_provisioning(tmp_path / "out", READER)
        inside = write_provisioning(tmp_path / "home" / "grafana", READER, shared=False)
    finally:
        os.umask(old)
    for f in shared:
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
        for folder in f.relative_to(tmp_path / "out").parents:
            assert stat.S_IMODE((tmp_path / "out" / folder).stat().st_mode) == 0o755, folder
    for f in inside:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_push_creates_then_updates_the_datasource_and_saves_dashboards(grafana: FakeGrafana) -> None:
    first = push_to_grafana(grafana.url, grafana.token, READER)
    assert first.datasource == "created"
    assert all(c.authorization == f"Bearer {grafana.token}" for c in grafana.calls if c.path != "/api/health")
    ds = grafana.datasources[DATASOURCE_UID]
    assert ds["user"] == "wearsync_reader" and ds["secureJsonData"]["password"] == "Rd-pass$word_123"
    assert set(grafana.dashboards) == {"wearsync-clinic", "wearsync-patient"}
    assert all(b["folderUid"] == "wearsync" and b["overwrite"] for b in grafana.dashboards.values())
    assert first.dashboards[0].startswith(grafana.url + "/d/")

    second = push_to_grafana(grafana.url, grafana.token, READER)
    assert second.datasource == "updated"
    assert [c.method for c in grafana.calls if c.path == f"/api/datasources/uid/{DATASOURCE_UID}"][-1] == "PUT"
    assert sum(1 for c in grafana.calls if c.path == "/api/folders") == 1  # folder made once


def test_wrong_token_gives_a_plain_message(grafana: FakeGrafana) -> None:
    with pytest.raises(GrafanaError, match="did not accept the service-account token") as err:
        push_to_grafana(grafana.url, "glsa_wrong", READER)
    assert "GRAFANA_API_TOKEN" in err.value.message
    assert not grafana.datasources


def test_missing_permission_says_what_to_change(grafana: FakeGrafana) -> None:
    grafana.forbid.add("/api/datasources")
    with pytest.raises(GrafanaError, match=r"not allowed to create the data source \(403\)"):
        push_to_grafana(grafana.url, grafana.token, READER)


def test_wrong_grafana_address_404_says_check_grafana_url(grafana: FakeGrafana) -> None:
    with pytest.raises(GrafanaError, match="Check GRAFANA_URL"):
        push_to_grafana(grafana.url + "/not-grafana", grafana.token, READER)


def test_connection_refused_says_grafana_is_not_reachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GrafanaError, match=r"not reachable at http://127\.0\.0\.1:"):
        push_to_grafana(f"http://127.0.0.1:{port}", "t", READER)


def test_provision_uses_the_configured_database_and_pushes_when_configured(
        on_mysql: SecretStore, grafana: FakeGrafana, tmp_path: Path) -> None:
    files_only = provision(tmp_path / "a")
    assert files_only.push is None and "not both set" in (files_only.skipped_push_reason or "")
    on_mysql.set("GRAFANA_URL", grafana.url)
    on_mysql.set("GRAFANA_API_TOKEN", grafana.token)
    result = provision(tmp_path / "b")
    assert result.push is not None and result.push.datasource == "created"
    assert grafana.datasources[DATASOURCE_UID]["url"] == "db.clinic.lan:3307"
    assert provision(tmp_path / "c", push=False).push is None
    moved = provision(tmp_path / "d", mysql_address="10.0.0.5:3306")
    assert grafana.datasources[DATASOURCE_UID]["url"] == "10.0.0.5:3306" and moved.push


def test_provision_on_sqlite_or_without_reader_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Set up MySQL first"):
        provision(tmp_path)
    config.write_config_file({"database_url": "mysql+pymysql://w@h/wearsync"})
    SecretStore().set("SECRET_PASSWORD", "writer-secret-123")
    with pytest.raises(MissingSecret, match="MySQL reader user"):
        reader_connection()


def test_open_in_grafana_url_carries_the_row_id_never_the_patient_id() -> None:
    assert open_in_grafana_url("https://abc.ngrok.app/", 12) == (
        f"https://abc.ngrok.app/d/{PATIENT_UID}/wearsync-patient?var-patient=12")
    with pytest.raises(InvalidInput):
        open_in_grafana_url("abc.ngrok.app", 1)
    for bad in ("P1", "1 OR 1=1", 0, True):
        with pytest.raises(InvalidInput):
            open_in_grafana_url("https://abc.ngrok.app/", bad)  # type: ignore[arg-type]


def test_grafana_base_url_prefers_the_tunnel_then_grafana_url() -> None:
    store = SecretStore()
    assert grafana_base_url(store) == "http://localhost:3000"
    store.set("GRAFANA_URL", "http://grafana.clinic.lan:3000/")
    assert grafana_base_url(store) == "http://grafana.clinic.lan:3000"
    assert grafana_base_url(store, "https://x.ngrok.app") == "https://x.ngrok.app"


def test_cli_grafana_provision_writes_files_and_pushes(run_cli, tmp_path: Path, grafana: FakeGrafana) -> None:  # type: ignore[no-untyped-def]
    env = {"WEARSYNC_HOME": str(tmp_path / "home"),
           "WEARSYNC_DATABASE_URL": "mysql+pymysql://w:pw@127.0.0.1:3306/wearsync",
           "GRAFANA_DB_USER": "wearsync_reader", "GRAFANA_DB_PASSWORD": "Rd-pass$word_123",
           "GRAFANA_URL": grafana.url, "GRAFANA_API_TOKEN": grafana.token}
    done = run_cli("grafana", "provision", "--out", str(tmp_path / "out"), env=env)
    assert done.returncode == 0, done.stderr
    assert "provisioning/datasources/wearsync.yaml" in done.stdout
    assert "data source created" in done.stdout
    assert (tmp_path / "out/dashboards/wearsync-patient.json").exists()

    env["GRAFANA_API_TOKEN"] = "wrong"
    bad = run_cli("grafana", "provision", "--out", str(tmp_path / "out"), env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("wearsync: Grafana did not accept")

    on_sqlite = {k: v for k, v in env.items() if k != "WEARSYNC_DATABASE_URL"}
    assert run_cli("patients", "add", "P-1", env=on_sqlite).returncode == 0
    url = run_cli("grafana", "url", "P-1", env=on_sqlite)
    assert url.stdout.strip() == f"{grafana.url}/d/{PATIENT_UID}/wearsync-patient?var-patient=1"


def test_cli_grafana_provision_on_sqlite_fails_in_one_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("grafana", "provision", env={"WEARSYNC_HOME": str(tmp_path / "home")})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Set up MySQL first" in done.stderr
