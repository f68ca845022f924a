"""A small real SMTP server on 127.0.0.1 for tests (RFC 5321 subset, smtplib-compatible).

Speaks EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT.
STARTTLS can be absent (`starttls="absent"`), advertised and refused (`"refuse"`) or real
(`"offer"`, with `tls_context`); `implicit_tls=True` speaks TLS from the first byte (port 465
style). With a username/password set, AUTH is required and a wrong password gets 535. Received
messages are kept in `messages`. `self_signed_cert()` makes a certificate for 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    auth_user: str | None

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class ServerConfig:
    username: str | None = None
    password: str | None = None
    starttls: str = "absent"  # absent | refuse | offer
    reject_rcpt: set[str] = field(default_factory=set)
    tls_context: ssl.SSLContext | None = None
    implicit_tls: bool = False


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def readline(self) -> str | None:
        raw = self.rfile.readline(65536)
        if not raw:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def _wrap(self) -> None:
        assert self.server.config.tls_context is not None
        self.connection = self.request = self.server.config.tls_context.wrap_socket(
            self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb")

    def handle(self) -> None:
        cfg = self.server.config
        if cfg.implicit_tls:
            try:
                self._wrap()
            except (ssl.SSLError, OSError):
                return
        self.reply("220 localhost WearSync test SMTP")
        user: str | None = None
        mail_from: str | None = None
        rcpts: list[str] = []
        while True:
            line = self.readline()
            if line is None:
                return
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                caps = ["250-localhost", "250-8BITMIME"]
                if cfg.starttls in ("refuse", "offer") and not isinstance(self.connection, ssl.SSLSocket):
                    caps.append("250-STARTTLS")
                if cfg.username is not None:
                    caps.append("250-AUTH PLAIN LOGIN")
                caps.append("250 SMTPUTF8")
                for c in caps:
                    self.reply(c)
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "STARTTLS":
                if cfg.starttls != "offer":
                    self.reply("454 4.7.0 TLS not available" if cfg.starttls == "refuse" else "502 5.5.1 Unknown")
                    continue
                self.reply("220 2.0.0 Ready to start TLS")
                try:
                    self._wrap()
                except (ssl.SSLError, OSError):
                    return
                user, mail_from, rcpts = None, None, []  # RFC 3207: forget everything from before
            elif verb == "AUTH":
                if cfg.starttls == "offer" and not isinstance(self.connection, ssl.SSLSocket):
                    self.reply("530 5.7.0 Must issue a STARTTLS command first")
                    continue
                user = self._auth(arg)
                if user is None:
                    self.reply("535 5.7.8 Username and Password not accepted")
                else:
                    self.reply("235 2.7.0 Accepted")
            elif verb == "MAIL":
                if cfg.username is not None and user is None:
                    self.reply("530 5.7.0 Authentication Required")
                    continue
                mail_from, rcpts = _address(arg), []
                self.reply("250 OK")
            elif verb == "RCPT":
                addr = _address(arg)
                if addr in cfg.reject_rcpt:
                    self.reply("550 5.1.1 No such user")
                else:
                    rcpts.append(addr)
                    self.reply("250 OK")
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    self.reply("503 5.5.1 Bad sequence")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = self._data()
                if body is None:
                    return
                with self.server.lock:
                    self.server.messages.append(Received(mail_from, rcpts, body, user))
                self.reply("250 OK queued")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not recognized")

    def _auth(self, arg: str) -> str | None:
        cfg = self.server.config
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if mech == "PLAIN":
            if not initial:
                self.reply("334 ")
                initial = self.readline() or ""
            try:
                _authzid, user, password = base64.b64decode(initial).decode().split("\0")
            except ValueError:
                return None
        elif mech == "LOGIN":
            if initial:
                user = base64.b64decode(initial).decode()
            else:
                self.reply("334 " + base64.b64encode(b"Username:").decode())
                user = base64.b64decode(self.readline() or "").decode()
            self.reply("334 " + base64.b64encode(b"Password:").decode())
            password = base64.b64decode(self.readline() or "").decode()
        else:
            return None
        if user == cfg.username and password == cfg.password:
            return user
        return None

    def _data(self) -> bytes | None:
        lines: list[bytes] = []
        while True:
            raw = self.rfile.readline(1_000_000)
            if not raw:
                return None
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            if raw.startswith(b".."):
                raw = raw[1:]
            lines.append(raw)


def _address(arg: str) -> str:
    start, end = arg.find("<"), arg.find(">")
    return arg[start + 1:end] if 0 <= start < end else arg.split(":", 1)[-1].strip()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (an IP SAN), valid for a day; returns (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    # OpenSSL checks validity against the real date, whatever a test did to Python's clock
    import time_machine

    hatch = time_machine.escape_hatch
    now = dt.datetime.fromtimestamp(hatch.time.time() if hatch.is_travelling() else time.time(), dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, config: ServerConfig) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.config = config
        self.messages: list[Received] = []
        self.lock = threading.Lock()


class SmtpTestServer:
    """`with SmtpTestServer(username=..., password=...) as srv:` → srv.port, srv.messages."""

    def __init__(self, **config: object) -> None:
        self._server = _Server(ServerConfig(**config))  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="smtp-test", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def config(self) -> ServerConfig:
        return self._server.config

    @property
    def messages(self) -> list[Received]:
        with self._server.lock:
            return list(self._server.messages)

    def start(self) -> SmtpTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
