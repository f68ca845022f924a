"""Sending e-mail through SMTP: alert digests and the "Send test e-mail" button.

Server from `WEARSYNC_SMTP_HOST` / `_PORT` / `_TLS` (default Gmail, 587, STARTTLS, as the seed
used); sender and password from the secrets `DATA_PLATFORM_EMAIL` / `DATA_PLATFORM_PASSWORD`
(for Gmail an app password). Every failure becomes a `MailError` whose message names the fix:
the password, the server settings, or an address.
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from services.errors import InvalidInput, WearSyncError
from services.logging_setup import redact
from services.secrets import SecretStore

log = logging.getLogger(__name__)

TLS_MODES = ("starttls", "ssl", "none")
SENDER = "DATA_PLATFORM_EMAIL"
PASSWORD = "DATA_PLATFORM_PASSWORD"
SERVER_VARS = "WEARSYNC_SMTP_HOST, WEARSYNC_SMTP_PORT and WEARSYNC_SMTP_TLS"


class MailError(WearSyncError):
    title = "E-mail could not be sent"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: str  # starttls | ssl | none

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SmtpConfig:
        host = (environ.get("WEARSYNC_SMTP_HOST") or "smtp.gmail.com").strip()
        raw_port = (environ.get("WEARSYNC_SMTP_PORT") or "587").strip()
        tls = (environ.get("WEARSYNC_SMTP_TLS") or "starttls").strip().lower()
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise InvalidInput(f"WEARSYNC_SMTP_PORT must be a port number such as 587 or 465, not {raw_port!r}.")
        if tls not in TLS_MODES:
            raise InvalidInput(
                f"WEARSYNC_SMTP_TLS must be starttls (usually port 587), ssl (usually port 465) or none "
                f"(a local relay), not {tls!r}."
            )
        return cls(host, int(raw_port), tls)

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.tls})"


class Mailer:
    def __init__(self, secrets: SecretStore, environ: Mapping[str, str], *, timeout: float = 20.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._secrets = secrets
        self._environ = environ
        self._timeout = timeout
        self._ssl_context = ssl_context

    def config(self) -> SmtpConfig:
        return SmtpConfig.from_environ(self._environ)

    def sender(self) -> str:
        return self._secrets.require(SENDER, "send alert e-mails").strip()

    def send(self, to: Sequence[str], subject: str, body: str) -> None:
        """Send one plain-text message to all of `to`; MailError / MissingSecret say what to fix."""
        if not to:
            raise InvalidInput("There is nobody to send to: add an alert recipient first.")
        cfg = self.config()
        sender = self.sender()
        password = self._secrets.require(PASSWORD, "send alert e-mails")
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Date"] = email.utils.formatdate(localtime=True)
        # an explicit domain: make_msgid() would otherwise look up this host's name in DNS
        msg["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or "wearsync.local")
        msg.set_content(body)
        with self._session(cfg, sender, password) as smtp:
            try:
                smtp.send_message(msg, from_addr=sender, to_addrs=list(to))
            except Exception as exc:
                raise self._explain(exc, cfg, sender) from None
        log.info("e-mail sent to %d recipient(s) through %s", len(to), cfg.host)

    def check_login(self, password: str | None = None) -> str:
        """Sign in and out again; the Settings page's "Test" for the sender password."""
        cfg = self.config()
        sender = self.sender()
        pw = password or self._secrets.require(PASSWORD, "send alert e-mails")
        with self._session(cfg, sender, pw):
            pass
        return f"Signed in to {cfg.host} as {sender}."

    def send_test_email(self, to: str) -> str:
        from services.alerts.service import validate_email

        address = validate_email(to)
        self.send([address], "WearSync test e-mail",
                  "This is a test message from WearSync.\n\n"
                  "If you can read it, WearSync can send alert e-mails to this address.\n")
        return f"A test e-mail was sent to {address}."

    # -- internals
    def _session(self, cfg: SmtpConfig, sender: str, password: str) -> _Session:
        return _Session(self, cfg, sender, password)

    def _open(self, cfg: SmtpConfig, sender: str, password: str) -> smtplib.SMTP:
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if cfg.tls == "ssl":
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=self._timeout, context=context)
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=self._timeout)
            smtp.ehlo()
            if cfg.tls == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.tls == "none" and not smtp.has_extn("auth"):
                return smtp  # a local relay that takes mail without signing in
            smtp.login(sender, password)
            return smtp
        except Exception as exc:
            if smtp is not None:
                _quietly_close(smtp)
            raise self._explain(exc, cfg, sender) from None

    @staticmethod
    def _explain(exc: BaseException, cfg: SmtpConfig, sender: str) -> MailError:
        detail = redact(_reason(exc))
        log.warning("SMTP %s failed: %s: %s", cfg, type(exc).__name__, detail)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return MailError(
                f"The mail server {cfg.host} refused the sign-in for {sender}. Check the app password "
                "(Settings → Secrets → Alert sender password); for Gmail, create an app password at "
                "myaccount.google.com/apppasswords and use it instead of the normal password."
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = ", ".join(sorted(exc.recipients))
            return MailError(f"The mail server refused these recipient addresses: {refused}. "
                             "Check the alert recipients.")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return MailError(f"The mail server refused the sender address {sender}. Check the alert "
                             "sender e-mail (DATA_PLATFORM_EMAIL) in Settings → Secrets.")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return MailError(f"The mail server {cfg.host}:{cfg.port} does not support {detail or 'this'}. "
                             f"Check the SMTP server settings ({SERVER_VARS}).")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return MailError(f"The secure connection to {cfg.host}:{cfg.port} failed: its certificate is not "
                             f"trusted ({detail}). Check that WEARSYNC_SMTP_HOST is the mail server's own name.")
        if isinstance(exc, ssl.SSLError):
            return MailError(f"A secure connection to {cfg.host}:{cfg.port} failed ({detail}). Check the "
                             "SMTP server settings: port 587 uses starttls, port 465 uses ssl.")
        if isinstance(exc, smtplib.SMTPResponseException):
            return MailError(f"The mail server {cfg.host} answered {exc.smtp_code}: {detail}. Check the "
                             f"SMTP server settings ({SERVER_VARS}).")
        if isinstance(exc, (OSError, smtplib.SMTPException)):  # refused, timeout, DNS, disconnect
            return MailError(f"Could not reach the mail server {cfg.host}:{cfg.port} ({detail}). Check the "
                             f"SMTP server ({SERVER_VARS}) and the network connection.")
        return MailError(f"Sending e-mail failed ({type(exc).__name__}: {detail}).")


class _Session:
    """Context manager: an open, signed-in SMTP connection, closed however the block ends."""

    def __init__(self, mailer: Mailer, cfg: SmtpConfig, sender: str, password: str) -> None:
        self._args = (mailer, cfg, sender, password)
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> smtplib.SMTP:
        mailer, cfg, sender, password = self._args
        self._smtp = mailer._open(cfg, sender, password)
        return self._smtp

    def __exit__(self, *_exc: object) -> None:
        if self._smtp is not None:
            _quietly_close(self._smtp)


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except Exception:
        smtp.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return text.strip()
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    return str(exc) or type(exc).__name__


def register_checker(secrets: SecretStore, mailer: Mailer) -> None:
    """Settings → Secrets → Test on the sender password tries a real SMTP sign-in."""
    secrets.checkers[PASSWORD] = lambda value: mailer.check_login(password=value)
