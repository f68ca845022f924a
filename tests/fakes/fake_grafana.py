"""A small stand-in for Grafana's HTTP API (the calls WearSync makes), for tests.

It checks what real Grafana checks that matters to us: the service-account token as
`Authorization: Bearer`, and the shape of data source, folder and dashboard payloads (a 400 with
a message when wrong, as Grafana answers). Data sources are kept by uid, so create-then-update
can be observed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class FakeGrafana:
    token: str = "glsa_test_token_invented"
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    forbid: set[str] = field(default_factory=set)  # paths answering 403

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.calls.append(Call(self.command, self.path, self.headers.get("Authorization"), body))
                status, answer = fake.route(self.command, self.path, self.headers.get("Authorization"), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeGrafana:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ routing
    def route(self, method: str, path: str, auth: str | None, body: Any) -> tuple[int, Any]:
        if path == "/api/health" and method == "GET":
            return 200, {"database": "ok", "version": "11.3.0"}
        if not path.startswith("/api/"):
            return 404, {"message": "Not found"}
        if auth != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}
        if path in self.forbid:
            return 403, {"message": "You'll need additional permissions to perform this action."}
        if path.startswith("/api/datasources/uid/"):
            uid = path.rsplit("/", 1)[1]
            if method == "GET":
                return (200, self.datasources[uid]) if uid in self.datasources else (404, {"message": "not found"})
            if method == "PUT":
                if uid not in self.datasources:
                    return 404, {"message": "Data source not found"}
                problem = _datasource_problem(body)
                if problem:
                    return 400, {"message": problem}
                self.datasources[uid] = body
                return 200, {"message": "Datasource updated", "datasource": body}
        if path == "/api/datasources" and method == "POST":
            problem = _datasource_problem(body)
            if problem:
                return 400, {"message": problem}
            if body["uid"] in self.datasources:
                return 409, {"message": "data source with the same uid already exists"}
            self.datasources[body["uid"]] = body
            return 200, {"message": "Datasource added", "datasource": body}
        if path.startswith("/api/folders/") and method == "GET":
            uid = path.rsplit("/", 1)[1]
            return (200, self.folders[uid]) if uid in self.folders else (404, {"message": "folder not found"})
        if path == "/api/folders" and method == "POST":
            if not isinstance(body, dict) or not body.get("title") or not body.get("uid"):
                return 400, {"message": "folder title and uid required"}
            self.folders[body["uid"]] = body
            return 200, body
        if path == "/api/dashboards/db" and method == "POST":
            problem = _dashboard_problem(body, self.folders)
            if problem:
                return 400, {"message": problem}
            dash = body["dashboard"]
            self.dashboards[dash["uid"]] = body
            return 200, {"status": "success", "uid": dash["uid"], "url": f"/d/{dash['uid']}/slug", "version": 1}
        return 404, {"message": "Not found"}


def _datasource_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be an object"
    for key in ("name", "type", "uid", "url", "user", "access", "jsonData", "secureJsonData"):
        if key not in body:
            return f"missing {key}"
    if body["type"] != "mysql" or body["access"] != "proxy":
        return "wrong type or access"
    if not body["jsonData"].get("database") or not body["secureJsonData"].get("password"):
        return "database and password required"
    return None


def _dashboard_problem(body: Any, folders: dict[str, Any]) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
        return "dashboard required"
    dash = body["dashboard"]
    if dash.get("id") is not None:
        return "id must be null for a new dashboard"
    if not dash.get("uid") or not dash.get("title") or not isinstance(dash.get("panels"), list):
        return "uid, title and panels required"
    if body.get("overwrite") is not True:
        return "A dashboard with the same uid already exists"
    if body.get("folderUid") and body["folderUid"] not in folders:
        return "folder not found"
    return None
