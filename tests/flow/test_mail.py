"""Sending mail through a real SMTP server on 127.0.0.1, and every way it can fail in plain words."""

from __future__ import annotations

import os
import socket
import ssl

import pytest

from services.alerts.mail import Mailer, MailError, SmtpConfig, register_checker
from services.errors import InvalidInput, MissingSecret
from services.secrets import SecretStore
from tests.support.smtp_server import SmtpTestServer, self_signed_cert, server_tls_context

SENDER = "alerts@clinic.example"
PASSWORD = "abcd efgh ijkl mnop"


def env_for(port: int, tls: str = "none", **extra: str) -> dict[str, str]:
    env = {"WEARSYNC_SMTP_HOST": "127.0.0.1", "WEARSYNC_SMTP_PORT": str(port), "WEARSYNC_SMTP_TLS": tls,
           "DATA_PLATFORM_EMAIL": SENDER, "DATA_PLATFORM_PASSWORD": PASSWORD,
           "PYTHON_KEYRING_BACKEND": os.environ["PYTHON_KEYRING_BACKEND"]}
    env.update(extra)
    return env


def mailer(env: dict[str, str]) -> Mailer:
    return Mailer(SecretStore(env), env, timeout=5)


@pytest.fixture
def server():
    with SmtpTestServer(username=SENDER, password=PASSWORD) as srv:
        yield srv


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_the_test_email_arrives_signed_in_as_the_sender(server):
    result = mailer(env_for(server.port)).send_test_email("  Coordinator@Clinic.example ")
    assert result == "A test e-mail was sent to coordinator@clinic.example."
    [got] = server.messages
    assert got.auth_user == SENDER and got.mail_from == SENDER
    assert got.rcpt_to == ["coordinator@clinic.example"]
    assert got.message["Subject"] == "WearSync test e-mail"
    assert "WearSync can send alert e-mails" in got.message.get_content()


def test_a_wrong_password_says_check_the_app_password(server):
    with pytest.raises(MailError, match="Check the app password") as err:
        mailer(env_for(server.port, DATA_PLATFORM_PASSWORD="wrong")).send_test_email("a@clinic.example")
    assert "wrong" not in err.value.message
    assert server.messages == []


def test_a_server_that_is_down_says_check_the_smtp_server():
    with pytest.raises(MailError, match=r"Could not reach the mail server 127\.0\.0\.1.*connection refused.*"
                                        r"Check the SMTP server"):
        mailer(env_for(closed_port())).send_test_email("a@clinic.example")


def test_starttls_refused_or_absent_is_explained():
    with SmtpTestServer(username=SENDER, password=PASSWORD, starttls="refuse") as srv, \
            pytest.raises(MailError, match=r"answered 454.*Check the SMTP server settings"):
        mailer(env_for(srv.port, tls="starttls")).send_test_email("a@clinic.example")
    with SmtpTestServer(username=SENDER, password=PASSWORD) as srv, \
            pytest.raises(MailError, match=r"does not support STARTTLS"):
        mailer(env_for(srv.port, tls="starttls")).send_test_email("a@clinic.example")


def test_a_refused_recipient_is_named(server):
    server.config.reject_rcpt.add("gone@clinic.example")
    with pytest.raises(MailError, match=r"refused these recipient addresses: gone@clinic\.example"):
        mailer(env_for(server.port)).send(["gone@clinic.example"], "s", "b")


def test_server_settings_are_validated():
    assert SmtpConfig.from_environ({}) == SmtpConfig("smtp.gmail.com", 587, "starttls")
    assert SmtpConfig.from_environ({"WEARSYNC_SMTP_TLS": "SSL", "WEARSYNC_SMTP_PORT": "465"}).tls == "ssl"
    with pytest.raises(InvalidInput, match="WEARSYNC_SMTP_TLS must be starttls"):
        SmtpConfig.from_environ({"WEARSYNC_SMTP_TLS": "tls"})
    with pytest.raises(InvalidInput, match="WEARSYNC_SMTP_PORT must be a port number"):
        SmtpConfig.from_environ({"WEARSYNC_SMTP_PORT": "99999"})


def test_missing_sender_or_password_is_a_missing_secret(server):
    env = env_for(server.port)
    del env["DATA_PLATFORM_PASSWORD"]
    with pytest.raises(MissingSecret, match="Alert sender password is not set"):
        mailer(env).send_test_email("a@clinic.example")
    env = env_for(server.port)
    del env["DATA_PLATFORM_EMAIL"]
    with pytest.raises(MissingSecret, match="Alert sender e-mail is not set"):
        mailer(env).send_test_email("a@clinic.example")


def test_a_bad_test_address_is_refused_before_connecting(server):
    with pytest.raises(InvalidInput, match="not an e-mail address"):
        mailer(env_for(server.port)).send_test_email("not-an-address")


def test_the_password_secret_is_tested_by_signing_in(server):
    env = env_for(server.port)
    del env["DATA_PLATFORM_PASSWORD"]
    store = SecretStore(env)
    register_checker(store, Mailer(store, env, timeout=5))
    store.set("DATA_PLATFORM_PASSWORD", PASSWORD)
    assert store.test("DATA_PLATFORM_PASSWORD") == f"Signed in to 127.0.0.1 as {SENDER}."
    store.set("DATA_PLATFORM_PASSWORD", "not-it")
    with pytest.raises(MailError, match="app password"):
        store.test("DATA_PLATFORM_PASSWORD")
    assert server.messages == []


@pytest.fixture
def cert(tmp_path):
    return self_signed_cert(tmp_path)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_a_real_tls_session_in_both_modes(cert, mode):
    cert_path, key_path = cert
    tls = {"starttls": "offer"} if mode == "starttls" else {"implicit_tls": True}
    trusted = ssl.create_default_context(cafile=str(cert_path))
    with SmtpTestServer(username=SENDER, password=PASSWORD, tls_context=server_tls_context(cert_path, key_path),
                        **tls) as srv:
        env = env_for(srv.port, tls=mode)
        Mailer(SecretStore(env), env, timeout=5, ssl_context=trusted).send_test_email("a@clinic.example")
        assert [m.auth_user for m in srv.messages] == [SENDER]
        # a certificate the computer does not trust is refused, with the reason
        with pytest.raises(MailError, match=r"127\.0\.0\.1.*failed: its certificate is not trusted"):
            mailer(env).send_test_email("a@clinic.example")
        assert len(srv.messages) == 1
