"""Grafana: provisioning files, the same pushed through Grafana's HTTP API, and "Open in Grafana".

(a) `write_provisioning(out)` writes, the documented way:
      out/provisioning/datasources/wearsync.yaml   the MySQL data source (reader account, uid
                                                   "wearsync-mysql", session time zone UTC)
      out/provisioning/dashboards/wearsync.yaml    a file provider pointing at out/dashboards
      out/dashboards/*.json                        the clinic and patient dashboards
    The password is an environment reference ($GRAFANA_DB_PASSWORD, expanded by Grafana) unless
    asked to embed it (then the file is readable by its owner only).
(b) `push_to_grafana(url, token, ...)` creates or updates the data source by uid and saves the
    dashboards (overwrite) into a WearSync folder, with a service-account token as Bearer.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from sqlalchemy.engine import URL, make_url

from services import config
from services.errors import InvalidInput, WearSyncError
from services.reach.grafana_dashboards import (
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
    PATIENT_SLUG,
    PATIENT_UID,
    dashboards,
)
from services.secrets import SecretStore

if TYPE_CHECKING:  # requests loads with the first Grafana call, not at start (issue 15)
    import requests

log = logging.getLogger(__name__)

DATASOURCE_NAME = "WearSync"
PASSWORD_ENV = "GRAFANA_DB_PASSWORD"
TIMEOUT_S = 10


class GrafanaError(WearSyncError):
    title = "Grafana"


@dataclass(frozen=True)
class ReaderConnection:
    """How Grafana reaches WearSync's MySQL database: the SELECT-only account."""

    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """A SQLAlchemy URL for this account, password included: keep it out of logs."""
        return URL.create("mysql+pymysql", username=self.user, password=self.password, host=self.host,
                          port=self.port, database=self.database,
                          query={"charset": "utf8mb4"}).render_as_string(hide_password=False)


@dataclass(frozen=True)
class PushResult:
    datasource: str  # created | updated
    dashboards: tuple[str, ...]  # full URLs

    def describe(self) -> str:
        return (f"Grafana data source {self.datasource}; dashboards saved: " + ", ".join(self.dashboards))


@dataclass(frozen=True)
class ProvisionResult:
    files: tuple[Path, ...]
    push: PushResult | None
    skipped_push_reason: str | None = None


# --------------------------------------------------------------------------- where things are


def reader_connection(environ: Mapping[str, str] | None = None, secrets: SecretStore | None = None,
                      mysql_address: str | None = None) -> ReaderConnection:
    """The reader account for WearSync's current MySQL database. `mysql_address` (host:port) is the
    database as Grafana sees it, when that differs from how WearSync sees it."""
    env = os.environ if environ is None else environ
    store = secrets if secrets is not None else SecretStore(env)
    url = make_url(config.database_url(env))
    if url.get_backend_name() != "mysql" or not url.database:
        raise InvalidInput(
            "Grafana reads WearSync's data from MySQL, and WearSync still uses its built-in SQLite "
            "database. Set up MySQL first in Settings → Database (or `main.py mysql setup`)."
        )
    host, port = url.host or "localhost", url.port or 3306
    if mysql_address:
        host, _, raw_port = mysql_address.rpartition(":") if ":" in mysql_address else (mysql_address, "", "")
        try:
            port = int(raw_port) if raw_port else 3306
        except ValueError:
            raise InvalidInput(
                f"The MySQL address for Grafana must look like host:3306, not {mysql_address!r}."
            ) from None
    return ReaderConnection(
        host=host, port=port, database=url.database,
        user=store.require("GRAFANA_DB_USER", "connect Grafana to the database"),
        password=store.require("GRAFANA_DB_PASSWORD", "connect Grafana to the database"),
    )


def grafana_base_url(secrets: SecretStore, tunnel_grafana_url: str | None = None, grafana_port: int = 3000) -> str:
    """Where a browser opens Grafana: the tunnel's public address when it is up, else GRAFANA_URL,
    else the local default."""
    for candidate in (tunnel_grafana_url, secrets.get("GRAFANA_URL")):
        if candidate and candidate.strip():
            return candidate.strip().rstrip("/")
    return f"http://localhost:{grafana_port}"


def open_in_grafana_url(base_url: str, patient_row_id: int) -> str:
    """The patient dashboard for one patient, chosen by row id (the dashboard's variable value), e.g.
    https://x.ngrok.app/d/wearsync-patient/wearsync-patient?var-patient=12."""
    if isinstance(patient_row_id, bool) or not isinstance(patient_row_id, int) or patient_row_id < 1:
        raise InvalidInput("Grafana opens a patient by the patient's number in the database.")
    return f"{_base(base_url)}/d/{PATIENT_UID}/{PATIENT_SLUG}?var-patient={patient_row_id}"


def check_grafana_url(base_url: str) -> str:
    """A Grafana address as typed in Settings, checked and without its trailing slash."""
    return _base(base_url)


def _base(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"The Grafana address must start with http:// or https://, not {base_url!r}.")
    return base_url.strip().rstrip("/")


# --------------------------------------------------------------------------- (a) files


def datasource_model(reader: ReaderConnection, password: str) -> dict[str, Any]:
    """The data source as both the provisioning file and the HTTP API take it."""
    return {
        "name": DATASOURCE_NAME, "uid": DATASOURCE_UID, "type": "mysql", "access": "proxy",
        "url": reader.address, "user": reader.user, "isDefault": False,
        "database": reader.database,  # where Grafana before 10 looks; newer ones read jsonData.database
        "jsonData": {
            "database": reader.database,
            # our DATETIMEs are naive UTC: make FROM_UNIXTIME/UNIX_TIMESTAMP in the macros agree
            "timezone": "+00:00",
            "timeInterval": "1m", "maxOpenConns": 10, "maxIdleConns": 2, "maxIdleConnsAuto": True,
            "connMaxLifetime": 14400,
        },
        "secureJsonData": {"password": password},
    }


def write_provisioning(out: Path, reader: ReaderConnection, *, embed_password: bool = False,
                       dashboards_path: Path | None = None, shared: bool = True) -> list[Path]:
    """Write the provisioning tree under `out` (see the module docstring); returns the files.

    `shared`: Grafana runs as another user and must read them, so folders 0755 and files 0644 (a file
    with the embedded password 0600) whatever the process umask; False inside WearSync's own data
    folder, which stays owner-only (services/filemodes.py)."""
    out = out.expanduser().resolve()
    ds_dir = out / "provisioning" / "datasources"
    prov_dir = out / "provisioning" / "dashboards"
    dash_dir = out / "dashboards"
    made = [d for d in (out, out / "provisioning", ds_dir, prov_dir, dash_dir) if not d.exists()]
    for d in (ds_dir, prov_dir, dash_dir):
        d.mkdir(parents=True, exist_ok=True)
    if shared and sys.platform != "win32":
        for d in made:  # only the folders made here; an existing folder keeps its mode
            d.chmod(0o755)
    import yaml  # PyYAML only when provisioning files are written

    # Grafana expands $NAME in provisioning files, so a literal password must double its dollars
    password = reader.password.replace("$", "$$") if embed_password else "${" + PASSWORD_ENV + "}"
    ds = datasource_model(reader, password)
    ds["editable"] = False
    ds_file = ds_dir / "wearsync.yaml"
    _write(ds_file, "# WearSync: the read-only MySQL data source. Written by `main.py grafana provision`.\n"
           + yaml.safe_dump({"apiVersion": 1, "datasources": [ds]}, sort_keys=False, allow_unicode=True),
           private=embed_password, shared=shared)
    provider = {"apiVersion": 1, "providers": [{
        "name": "WearSync", "orgId": 1, "folder": FOLDER_TITLE, "folderUid": FOLDER_UID, "type": "file",
        "disableDeletion": False, "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": str(dashboards_path or dash_dir), "foldersFromFilesStructure": False},
    }]}
    prov_file = prov_dir / "wearsync.yaml"
    _write(prov_file, "# WearSync dashboards. Written by `main.py grafana provision`.\n"
           + yaml.safe_dump(provider, sort_keys=False, allow_unicode=True), shared=shared)
    files = [ds_file, prov_file]
    for stem, model in dashboards().items():
        path = dash_dir / f"{stem}.json"
        _write(path, json.dumps(model, indent=2, ensure_ascii=False) + "\n", shared=shared)
        files.append(path)
    log.info("Grafana provisioning files written to %s", out)
    return files


def _write(path: Path, text: str, private: bool = False, shared: bool = False) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    if private:
        tmp.chmod(0o600)
    elif shared and sys.platform != "win32":
        tmp.chmod(0o644)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- (b) HTTP API


class GrafanaClient:
    """The few Grafana HTTP API calls WearSync needs, with plain-word errors."""

    def __init__(self, base_url: str, token: str, session: requests.Session | None = None,
                 timeout: float = TIMEOUT_S) -> None:
        self.base = _base(base_url)
        self._token = token
        if session is None:
            import requests

            session = requests.Session()
        self._http = session
        self._timeout = timeout

    def _call(self, method: str, path: str, what: str, body: Any = None, auth: bool = True,
              ok_missing: bool = False) -> Any:
        import requests

        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            resp = self._http.request(method, self.base + path, json=body, headers=headers, timeout=self._timeout)
        except requests.Timeout:
            raise GrafanaError(f"Grafana at {self.base} did not answer in time while {what}. Is it running?") from None
        except requests.ConnectionError:
            raise GrafanaError(
                f"Grafana is not reachable at {self.base}. Check that Grafana is running and that GRAFANA_URL "
                "(Settings → Secrets) is the address you open Grafana at, e.g. http://localhost:3000."
            ) from None
        if ok_missing and resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise GrafanaError(self._explain(resp.status_code, what, path, _message(resp)))
        try:
            return resp.json()
        except ValueError:
            raise GrafanaError(f"{self.base} answered, but not like Grafana does, while {what}. "
                               "Check GRAFANA_URL.") from None

    def _explain(self, status: int, what: str, path: str, detail: str) -> str:
        if status == 401:
            return ("Grafana did not accept the service-account token (401). Create a new token in Grafana → "
                    "Administration → Service accounts and save it as GRAFANA_API_TOKEN in Settings → Secrets.")
        if status == 403:
            return (f"The service-account token is not allowed to {what} (403). Give the service account the "
                    "Admin role in Grafana → Administration → Service accounts.")
        if status == 404:
            return (f"There is no Grafana API at {self.base}{path} (404). Check GRAFANA_URL: it should be the "
                    "address you open Grafana at, e.g. http://localhost:3000.")
        if status >= 500:
            return f"Grafana had an internal problem ({status}) while {what}. Try again; Grafana's log says more."
        return f"Grafana refused to {what} ({status}): {detail or 'no reason given'}."

    def health(self) -> None:
        self._call("GET", "/api/health", "checking that Grafana is up", auth=False)

    def upsert_datasource(self, model: dict[str, Any]) -> str:
        uid = quote(model["uid"], safe="")
        existing = self._call("GET", f"/api/datasources/uid/{uid}", "read the data source", ok_missing=True)
        if existing is None:
            self._call("POST", "/api/datasources", "create the data source", model)
            return "created"
        self._call("PUT", f"/api/datasources/uid/{uid}", "update the data source", model)
        return "updated"

    def ensure_folder(self, uid: str, title: str) -> None:
        if self._call("GET", f"/api/folders/{quote(uid, safe='')}", "read the dashboard folder",
                      ok_missing=True) is None:
            self._call("POST", "/api/folders", "create the dashboard folder", {"uid": uid, "title": title})

    def save_dashboard(self, model: dict[str, Any], folder_uid: str) -> str:
        body = {"dashboard": {**model, "id": None}, "folderUid": folder_uid, "overwrite": True,
                "message": "Provisioned by WearSync"}
        answer = self._call("POST", "/api/dashboards/db", "save the dashboards", body)
        url = answer.get("url") if isinstance(answer, dict) else None
        return self.base + url if isinstance(url, str) and url.startswith("/") else self.base + f"/d/{model['uid']}"


def push_to_grafana(base_url: str, token: str, reader: ReaderConnection,
                    session: requests.Session | None = None) -> PushResult:
    """Create/update the data source (by uid) and save both dashboards (overwrite) in Grafana."""
    client = GrafanaClient(base_url, token, session)
    client.health()
    action = client.upsert_datasource(datasource_model(reader, reader.password))
    client.ensure_folder(FOLDER_UID, FOLDER_TITLE)
    urls = tuple(client.save_dashboard(model, FOLDER_UID) for model in dashboards().values())
    log.info("Grafana at %s provisioned (data source %s)", client.base, action)
    return PushResult(action, urls)


# --------------------------------------------------------------------------- the button / the command


def provision(out: Path | None = None, *, push: bool | None = None, embed_password: bool = False,
              mysql_address: str | None = None, dashboards_path: Path | None = None,
              environ: Mapping[str, str] | None = None, secrets: SecretStore | None = None) -> ProvisionResult:
    """What `main.py grafana provision` and the Grafana button do: write the files (default
    <WEARSYNC_HOME>/grafana) and, when GRAFANA_URL and GRAFANA_API_TOKEN are set (or push=True),
    push the same through the API. push=False: files only."""
    env = os.environ if environ is None else environ
    store = secrets if secrets is not None else SecretStore(env)
    reader = reader_connection(env, store, mysql_address)
    target = out if out is not None else config.paths(env).home / "grafana"
    if target.exists() and not target.is_dir():
        raise GrafanaError(f"{target} is a file; choose a folder for Grafana's provisioning files.")
    home = config.paths(env).home.expanduser().resolve()
    inside_home = target.expanduser().resolve().is_relative_to(home)
    files = write_provisioning(target, reader, embed_password=embed_password, dashboards_path=dashboards_path,
                               shared=not inside_home)
    url, token = store.get("GRAFANA_URL"), store.get("GRAFANA_API_TOKEN")
    if push is False:
        return ProvisionResult(tuple(files), None, "not asked to")
    if not url or not token:
        if push:
            missing = " and ".join(n for n, v in (("GRAFANA_URL", url), ("GRAFANA_API_TOKEN", token)) if not v)
            raise GrafanaError(f"To update Grafana directly, set {missing} in Settings → Secrets.")
        return ProvisionResult(tuple(files), None, "GRAFANA_URL and GRAFANA_API_TOKEN are not both set")
    return ProvisionResult(tuple(files), push_to_grafana(url, token, reader))


def _message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return ""
    msg = data.get("message") if isinstance(data, dict) else None
    return str(msg)[:200] if msg else ""
