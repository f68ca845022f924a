"""OAuth 2.0 of the three sandbox vendors: consent pages, token endpoints, revocation, token checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import ipaddress
import secrets
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlencode, urlsplit

from .core import (
    GOOGLE_HEALTH_SCOPES,
    GOOGLE_OTHER_SCOPES,
    GOOGLE_SCOPE_PREFIX,
    POLAR_SCOPES,
    WITHINGS_SCOPES,
    AuthCode,
    Client,
    Request,
    Response,
    Token,
)
from .model import SandboxUser

CODE_LIFETIME = {"fitbit": 600.0, "withings": 30.0, "polar": 600.0}
ACCESS_LIFETIME = {"fitbit": 3599, "withings": 10800, "polar": 31535999}
GOOGLE_REFRESH_IDLE = 183 * 86400.0  # refresh tokens lapse after ~6 months unused
WITHINGS_REFRESH_LIFETIME = 365 * 86400.0
WITHINGS_OLD_REFRESH_GRACE = 8 * 3600.0

DEFAULT_CLIENTS = {
    "fitbit": ("sandbox-fitbit-client.apps.googleusercontent.com", "sandbox-fitbit-secret"),
    "withings": ("sandbox-withings-client", "sandbox-withings-secret"),
    "polar": ("sandbox-polar-client", "sandbox-polar-secret"),
}

# Field names the consent form adds to the original authorize parameters.
F_USER, F_DECISION, F_SCOPE = "sandbox_user", "sandbox_decision", "sandbox_scope"


def normalize_google_scope(scope: str) -> str:
    if scope.startswith("https://") or scope in GOOGLE_OTHER_SCOPES:
        return scope
    return GOOGLE_SCOPE_PREFIX + scope


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AuthState:
    """Clients, authorization codes and tokens of all vendors, guarded by one lock."""

    def __init__(
        self,
        clock: Callable[[], float],
        users: Callable[[str, str], SandboxUser | None],
        usernames: Callable[[str], list[str]],
        strict_withings_redirect: bool,
    ) -> None:
        self.clock = clock
        self.user = users
        self.usernames = usernames
        self.strict_withings_redirect = strict_withings_redirect
        self.lock = threading.RLock()
        self.clients: dict[tuple[str, str], Client] = {}
        self.codes: dict[str, AuthCode] = {}
        self.tokens: dict[str, Token] = {}
        self.granted_before: set[tuple[str, str, str]] = set()  # (vendor, client_id, username)
        self.withings_nonces: dict[str, tuple[str, float]] = {}  # nonce -> (client_id, issued at)
        for vendor, (cid, secret) in DEFAULT_CLIENTS.items():
            self.add_client(vendor, cid, secret)

    # ---------------------------------------------------------------- clients
    def add_client(
        self, vendor: str, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None
    ) -> Client:
        client = Client(
            vendor, client_id, client_secret, tuple(redirect_uris) if redirect_uris is not None else None
        )
        with self.lock:
            self.clients[(vendor, client_id)] = client
        return client

    def default_client(self, vendor: str) -> Client:
        return self.clients[(vendor, DEFAULT_CLIENTS[vendor][0])]

    def _redirect_ok(self, vendor: str, client: Client, uri: str) -> str | None:
        """None when acceptable, else the reason."""
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            return "redirect_uri must be an absolute http(s) URL without fragment"
        host = parts.hostname
        if (
            vendor == "withings"
            and self.strict_withings_redirect
            and (parts.scheme != "https" or host == "localhost" or _is_ip(host))
        ):
            return "Withings refuses localhost, IP-address and non-https redirect URIs"
        if client.redirect_uris is not None:
            for allowed in client.redirect_uris:
                if uri == allowed:
                    return None
                a = urlsplit(allowed)
                # Google desktop clients: any port on a registered loopback URI
                if vendor == "fitbit" and _is_loopback(host) and a.hostname == host and a.path == parts.path:
                    return None
            return "redirect_uri is not registered for this client"
        if parts.scheme == "http" and not _is_loopback(host):
            return "plain http is only allowed for loopback redirect URIs"
        return None

    # ---------------------------------------------------------------- authorize page
    def authorize(self, req: Request) -> Response:
        vendor = req.vendor
        p = req.params()
        client = self.clients.get((vendor, p.get("client_id", "")))
        if client is None:
            return _error_page(400, "invalid_client", "The OAuth client was not found (check client_id).")
        redirect_uri = p.get("redirect_uri")
        if redirect_uri is None and vendor == "polar" and client.redirect_uris:
            redirect_uri = client.redirect_uris[0]
        if not redirect_uri:
            return _error_page(400, "invalid_request", "Missing required parameter: redirect_uri")
        reason = self._redirect_ok(vendor, client, redirect_uri)
        if reason:
            return _error_page(400, "redirect_uri_mismatch", reason)
        state = p.get("state")

        def fail(error: str) -> Response:
            out = {"error": error}
            if state is not None:
                out["state"] = state
            return Response.redirect(_with_query(redirect_uri, out))

        if p.get("response_type") != "code":
            return fail("unsupported_response_type")
        requested = self._requested_scopes(vendor, p.get("scope"))
        if requested is None:
            return fail("invalid_scope")
        method = p.get("code_challenge_method")
        if vendor == "fitbit" and p.get("code_challenge") and (method or "plain") not in ("S256", "plain"):
            return fail("invalid_request")

        if req.method == "GET":
            return Response.html(self._consent_html(req, vendor, client, requested))

        username = p.get(F_USER, "")
        decision = p.get(F_DECISION, "")
        if decision == "deny":
            return fail("access_denied")
        if decision != "allow":
            return _error_page(400, "invalid_request", "Choose Allow or Deny.")
        user = self.user(vendor, username)
        if user is None:
            return _error_page(400, "invalid_request", f"No {vendor} sandbox account named {username!r}.")
        granted = requested
        if vendor == "fitbit":
            chosen = {normalize_google_scope(s) for s in req.form.get(F_SCOPE, [])}
            granted = tuple(s for s in requested if s not in GOOGLE_HEALTH_SCOPES or s in chosen)
            if p.get("include_granted_scopes") == "true":
                previous = self._previous_scopes(vendor, client.client_id, username)
                granted = tuple(dict.fromkeys(granted + previous))
        code = ("4/0" if vendor == "fitbit" else "") + secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = AuthCode(
                code,
                vendor,
                client.client_id,
                p.get("redirect_uri"),
                username,
                granted,
                self.clock(),
                challenge=p.get("code_challenge"),
                challenge_method=method or ("plain" if p.get("code_challenge") else None),
                offline=p.get("access_type") == "offline",
                prompt_consent="consent" in (p.get("prompt") or "").split(),
            )
        out = {"code": code}
        if state is not None:
            out["state"] = state
        if vendor == "fitbit":
            out["scope"] = " ".join(granted)
        return Response.redirect(_with_query(redirect_uri, out))

    def _requested_scopes(self, vendor: str, raw: str | None) -> tuple[str, ...] | None:
        if vendor == "fitbit":
            scopes = tuple(dict.fromkeys(normalize_google_scope(s) for s in (raw or "").split()))
            if not scopes:
                return None
            ok = all(s in GOOGLE_OTHER_SCOPES or s.startswith(GOOGLE_SCOPE_PREFIX) for s in scopes)
            return scopes if ok else None
        if vendor == "withings":
            scopes = tuple(s for s in (raw or "").replace(" ", "").split(",") if s)
            return scopes if scopes and all(s in WITHINGS_SCOPES for s in scopes) else None
        scopes = tuple((raw or POLAR_SCOPES[0]).split())
        return scopes if all(s in POLAR_SCOPES for s in scopes) else None

    def _previous_scopes(self, vendor: str, client_id: str, username: str) -> tuple[str, ...]:
        with self.lock:
            out: list[str] = []
            for t in self.tokens.values():
                if (t.vendor, t.client_id, t.username) == (vendor, client_id, username) and not t.revoked:
                    out.extend(t.scopes)
            return tuple(dict.fromkeys(out))

    def _consent_html(self, req: Request, vendor: str, client: Client, requested: tuple[str, ...]) -> str:
        e = html.escape
        hidden = "".join(
            f'<input type="hidden" name="{e(k)}" value="{e(v)}">'
            for k, v in req.params().items()
            if k not in (F_USER, F_DECISION, F_SCOPE)
        )
        accounts = "".join(f'<option value="{e(u)}">{e(u)}</option>' for u in self.usernames(vendor))
        scopes = ""
        if vendor == "fitbit":
            scopes = (
                "<fieldset><legend>Allow access to</legend>"
                + "".join(
                    f'<label><input type="checkbox" name="{F_SCOPE}" value="{e(s)}" checked> '
                    f'{e(s.rsplit("/", 1)[-1])}</label><br>'
                    for s in requested
                    if s in GOOGLE_HEALTH_SCOPES
                )
                + "</fieldset>"
            )
        else:
            scopes = "<p>Requested: " + e(", ".join(requested)) + "</p>"
        title = {"fitbit": "Google (Fitbit)", "withings": "Withings", "polar": "Polar Flow"}[vendor]
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>Sandbox consent</title>"
            "<style>body{font-family:sans-serif;margin:1rem;overflow-wrap:anywhere}button{font-size:1rem}</style>"
            "</head><body>"
            f"<h1>{title} sandbox &mdash; sign in and consent</h1>"
            f"<p>The application <b>{e(client.client_id)}</b> wants to read your data. "
            "This is the WearSync sandbox: all accounts and data are invented.</p>"
            f'<form method="post" action="">{hidden}'
            f'<label>Account <select name="{F_USER}">{accounts}</select></label>{scopes}'
            f'<button type="submit" name="{F_DECISION}" value="allow">Allow</button> '
            f'<button type="submit" name="{F_DECISION}" value="deny">Deny</button>'
            "</form></body></html>"
        )

    # ---------------------------------------------------------------- tokens
    def _issue(
        self,
        vendor: str,
        kind: str,
        username: str,
        client_id: str,
        scopes: tuple[str, ...],
        lifetime: float | None,
    ) -> Token:
        value = secrets.token_hex(20) if vendor == "withings" else secrets.token_urlsafe(32)
        if vendor == "fitbit":
            value = ("ya29." if kind == "access" else "1//") + value
        tok = Token(
            value,
            kind,
            vendor,
            username,
            client_id,
            scopes,
            None if lifetime is None else self.clock() + lifetime,
        )
        self.tokens[value] = tok
        return tok

    def _client_auth(self, req: Request, basic_only: bool = False) -> Client | None:
        cid = secret = None
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
        elif not basic_only:
            cid, secret = req.param("client_id"), req.param("client_secret")
        client = self.clients.get((req.vendor, cid or ""))
        if client is None or client.client_secret != secret:
            return None
        return client

    def _take_code(self, req: Request, client: Client) -> tuple[AuthCode | None, str]:
        """Validate and consume a code. Returns (code, error_reason)."""
        value = req.param("code") or ""
        code = self.codes.get(value)
        if code is None or code.vendor != req.vendor or code.client_id != client.client_id:
            return None, "invalid code"
        if code.used:
            return code, "code already used"
        if self.clock() - code.issued_at > CODE_LIFETIME[req.vendor]:
            return None, "code expired"
        redirect = req.param("redirect_uri")
        if code.redirect_uri is not None and redirect != code.redirect_uri:
            return None, "redirect_uri_mismatch"
        code.used = True
        return code, ""

    def token_google(self, req: Request) -> Response:
        def err(error: str, desc: str, status: int = 400) -> Response:
            return Response.json_body({"error": error, "error_description": desc}, status)

        with self.lock:
            client = self._client_auth(req)
            if client is None:
                # as Google answers: an unknown client ID, or a known one with the wrong secret
                known = ("fitbit", req.param("client_id") or "") in self.clients
                return err("invalid_client", "Unauthorized" if known else "The OAuth client was not found.", 401)
            grant = req.param("grant_type")
            if grant == "authorization_code":
                code, reason = self._take_code(req, client)
                if code is None or reason:
                    if reason == "redirect_uri_mismatch":
                        return err("redirect_uri_mismatch", "Bad Request")
                    return err("invalid_grant", "Bad Request" if reason != "code expired" else "Code expired")
                if code.challenge:
                    verifier = req.param("code_verifier") or ""
                    expected = pkce_s256(verifier) if code.challenge_method == "S256" else verifier
                    if not verifier or not secrets.compare_digest(expected, code.challenge):
                        return err("invalid_grant", "Invalid code verifier.")
                access = self._issue(
                    "fitbit",
                    "access",
                    code.username,
                    client.client_id,
                    code.scopes,
                    ACCESS_LIFETIME["fitbit"],
                )
                body: dict[str, object] = {
                    "access_token": access.value,
                    "expires_in": ACCESS_LIFETIME["fitbit"],
                    "scope": " ".join(code.scopes),
                    "token_type": "Bearer",
                }
                key = ("fitbit", client.client_id, code.username)
                if code.offline and (code.prompt_consent or key not in self.granted_before):
                    refresh = self._issue(
                        "fitbit", "refresh", code.username, client.client_id, code.scopes, GOOGLE_REFRESH_IDLE
                    )
                    body["refresh_token"] = refresh.value
                    body["refresh_token_expires_in"] = int(GOOGLE_REFRESH_IDLE)
                self.granted_before.add(key)
                return _with_user(Response.json_body(body), code.username)
            if grant == "refresh_token":
                tok = self.tokens.get(req.param("refresh_token") or "")
                if (
                    tok is None
                    or tok.kind != "refresh"
                    or tok.revoked
                    or tok.vendor != "fitbit"
                    or tok.client_id != client.client_id
                    or self._expired(tok)
                ):
                    return err("invalid_grant", "Token has been expired or revoked.")
                tok.expires_at = self.clock() + GOOGLE_REFRESH_IDLE
                access = self._issue(
                    "fitbit", "access", tok.username, client.client_id, tok.scopes, ACCESS_LIFETIME["fitbit"]
                )
                return _with_user(
                    Response.json_body(
                        {
                            "access_token": access.value,
                            "expires_in": ACCESS_LIFETIME["fitbit"],
                            "scope": " ".join(tok.scopes),
                            "token_type": "Bearer",
                        }
                    ),
                    tok.username,
                )
            return err("unsupported_grant_type", "Invalid grant_type: " + str(grant))

    def revoke_google(self, req: Request) -> Response:
        with self.lock:
            tok = self.tokens.get(req.param("token") or "")
            if tok is None or tok.revoked or tok.vendor != "fitbit":
                return Response.json_body(
                    {"error": "invalid_token", "error_description": "Token expired or revoked"}, 400
                )
            self._revoke_grant("fitbit", tok.client_id, tok.username)
            return _with_user(Response.json_body({}), tok.username)

    def signature_withings(self, req: Request) -> Response:
        """Signature v2 - Getnonce: action=getnonce, client_id, timestamp, signature over the three."""
        def err(status: int, msg: str) -> Response:
            return Response.json_body({"status": status, "body": {}, "error": msg})

        with self.lock:
            client = self.clients.get(("withings", req.param("client_id") or ""))
            if req.param("action") != "getnonce":
                return err(293, "Invalid params: unknown action")
            if client is None:
                return err(100, "Invalid client_id")
            timestamp = req.param("timestamp") or ""
            if not timestamp.isdigit():
                return err(293, "Invalid params: timestamp")
            if not hmac.compare_digest(req.param("signature") or "",
                                       _withings_signature(client.client_secret, "getnonce", client.client_id,
                                                           timestamp)):
                return err(293, "Invalid params: bad signature")
            nonce = secrets.token_hex(16)
            self.withings_nonces[nonce] = (client.client_id, self.clock())
            return Response.json_body({"status": 0, "body": {"nonce": nonce}})

    def token_withings(self, req: Request) -> Response:
        def err(status: int, msg: str) -> Response:
            return Response.json_body({"status": status, "body": {}, "error": msg})

        action = req.param("action")
        with self.lock:
            client = self._client_auth(req)
            if action == "revoke":
                # documented as a signed call: client_id, a nonce from /v2/signature, and the signature
                # HMAC-SHA256(client_secret, "revoke,<client_id>,<nonce>"); the secret itself is not sent
                client = self.clients.get(("withings", req.param("client_id") or ""))
                if client is None:
                    return err(100, "Invalid client_id")
                nonce = req.param("nonce") or ""
                issued = self.withings_nonces.pop(nonce, None)
                if issued is None or issued[0] != client.client_id or self.clock() - issued[1] > NONCE_LIFETIME:
                    return err(293, "Invalid params: nonce unknown, used or expired")
                if not hmac.compare_digest(req.param("signature") or "",
                                           _withings_signature(client.client_secret, "revoke", client.client_id,
                                                               nonce)):
                    return err(293, "Invalid params: bad signature")
                uid = req.param("userid") or ""
                for name in self.usernames("withings"):
                    u = self.user("withings", name)
                    if u is not None and u.user_id == uid:
                        self._revoke_grant("withings", client.client_id, name)
                        return _with_user(Response.json_body({"status": 0, "body": {}}), name)
                return err(293, "Invalid params: unknown userid")
            if action != "requesttoken":
                return err(293, "Invalid params: unknown action")
            if client is None:
                return err(100, "Invalid client_id or client_secret")
            grant = req.param("grant_type")
            if grant == "authorization_code":
                code, reason = self._take_code(req, client)
                if code is None or reason:
                    return err(401 if reason != "redirect_uri_mismatch" else 293, "Invalid Params: " + reason)
                return self._withings_pair(client, code.username, code.scopes, None)
            if grant == "refresh_token":
                tok = self.tokens.get(req.param("refresh_token") or "")
                if (
                    tok is None
                    or tok.kind != "refresh"
                    or tok.vendor != "withings"
                    or tok.revoked
                    or tok.client_id != client.client_id
                    or self._expired(tok)
                ):
                    return err(401, "Invalid Params: invalid refresh_token")
                if tok.superseded_at is None:
                    tok.superseded_at = self.clock()
                return self._withings_pair(client, tok.username, tok.scopes, tok.value)
            return err(293, "Invalid params: grant_type")

    def _withings_pair(
        self, client: Client, username: str, scopes: tuple[str, ...], old: str | None
    ) -> Response:
        access = self._issue(
            "withings", "access", username, client.client_id, scopes, ACCESS_LIFETIME["withings"]
        )
        access.replaces_refresh = old
        refresh = self._issue(
            "withings", "refresh", username, client.client_id, scopes, WITHINGS_REFRESH_LIFETIME
        )
        user = self.user("withings", username)
        body = {
            "userid": user.user_id if user else "",
            "access_token": access.value,
            "refresh_token": refresh.value,
            "expires_in": ACCESS_LIFETIME["withings"],
            "scope": ",".join(scopes),
            "csrf_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
        }
        return _with_user(Response.json_body({"status": 0, "body": body}), username)

    def token_polar(self, req: Request) -> Response:
        def err(error: str, status: int = 400) -> Response:
            return Response.json_body({"error": error}, status)

        with self.lock:
            client = self._client_auth(req, basic_only=True)
            if client is None:
                return err("invalid_client", 401)
            if req.param("grant_type") != "authorization_code":
                return err("unsupported_grant_type")
            code, reason = self._take_code(req, client)
            if code is not None and reason == "code already used":
                # Reusing a code deletes the tokens issued for it (and so the user's access).
                for value in code.issued_tokens:
                    if value in self.tokens:
                        self.tokens[value].revoked = True
                return err("invalid_grant")
            if code is None or reason:
                return err("invalid_grant")
            access = self._issue(
                "polar", "access", code.username, client.client_id, code.scopes, ACCESS_LIFETIME["polar"]
            )
            code.issued_tokens.append(access.value)
            user = self.user("polar", code.username)
            return _with_user(
                Response.json_body(
                    {
                        "access_token": access.value,
                        "token_type": "bearer",
                        "expires_in": ACCESS_LIFETIME["polar"],
                        "x_user_id": int(user.user_id) if user else 0,
                    }
                ),
                code.username,
            )

    # ---------------------------------------------------------------- checks used by the APIs
    def _expired(self, tok: Token) -> bool:
        now = self.clock()
        if tok.expires_at is not None and now >= tok.expires_at:
            return True
        return tok.superseded_at is not None and now >= tok.superseded_at + WITHINGS_OLD_REFRESH_GRACE

    def check_access(self, vendor: str, value: str | None) -> tuple[Token | None, str]:
        """(token, "") when valid, else (token or None, "missing" | "invalid" | "expired")."""
        if not value:
            return None, "missing"
        with self.lock:
            tok = self.tokens.get(value)
            if tok is None or tok.vendor != vendor or tok.kind != "access" or tok.revoked:
                return tok, "invalid"
            if self._expired(tok):
                return tok, "expired"
            if not tok.used:
                tok.used = True
                if tok.replaces_refresh and tok.replaces_refresh in self.tokens:
                    self.tokens[
                        tok.replaces_refresh
                    ].revoked = True  # Withings: old refresh dies on first use
            return tok, ""

    def _revoke_grant(self, vendor: str, client_id: str | None, username: str) -> None:
        for tok in self.tokens.values():
            if tok.vendor == vendor and tok.username == username and client_id in (None, tok.client_id):
                tok.revoked = True

    def revoke_user(self, vendor: str, username: str) -> None:
        with self.lock:
            self._revoke_grant(vendor, None, username)
            self.granted_before = {g for g in self.granted_before if g[0] != vendor or g[2] != username}

    def expire_access(self, vendor: str, username: str | None) -> None:
        with self.lock:
            now = self.clock()
            for tok in self.tokens.values():
                if tok.vendor == vendor and tok.kind == "access" and username in (None, tok.username):
                    tok.expires_at = min(tok.expires_at or now, now - 1)


def _with_user(resp: Response, username: str) -> Response:
    resp.username = username
    return resp


def _error_page(status: int, error: str, message: str) -> Response:
    return Response.html(
        f"<!doctype html><html><body><h1>Error {status}: {html.escape(error)}</h1>"
        f"<p>{html.escape(message)}</p></body></html>",
        status,
    )


NONCE_LIFETIME = 30 * 60  # seconds, as Withings documents


def _withings_signature(secret: str, *values: str) -> str:
    return hmac.new(secret.encode(), ",".join(values).encode(), hashlib.sha256).hexdigest()
