"""Settings → Secrets → Test on a vendor's client ID or secret asks the vendor: a token request with a
made-up code tells a known client ("invalid_grant": only the code is wrong) from an unknown client ID or
a secret that does not match ("invalid_client" / 401). No answer or a strange one is never an "OK"."""

from __future__ import annotations

import pytest

from services.accounts.actor import HOST
from services.connect.oauth.base import ClientNotKnown, OAuthError
from services.errors import MissingSecret
from services.sandbox import SandboxServer
from services.secret_admin import test_secret as run_secret_test
from services.vendors import VendorRegistry

from .conftest import free_port

REDIRECT = "http://127.0.0.1:8765/oauth2_callback"
OWNERS = {"fitbit": ("Google", "Google Cloud console"), "withings": ("Withings", "Withings developer dashboard"),
          "polar": ("Polar", "admin.polaraccesslink.com")}
VENDORS = list(OWNERS)


def vendor(srv: SandboxServer, name: str, **env: str):  # type: ignore[no-untyped-def]
    return VendorRegistry({**srv.environ(), **srv.credentials_environ(), **env}).get(name)


def names(name: str) -> tuple[str, str]:
    return f"{name.upper()}_CLIENT_ID", f"{name.upper()}_CLIENT_SECRET"


@pytest.mark.parametrize("name", VENDORS)
def test_known_client_is_confirmed_by_the_vendor(srv: SandboxServer, name: str) -> None:
    cid, secret = srv.client(name)
    id_name, secret_name = names(name)
    owner, _ = OWNERS[name]
    v = vendor(srv, name)
    assert v.check_client(id_name, cid, REDIRECT) == f"{owner} knows this client ID."
    assert v.check_client(secret_name, secret, REDIRECT).startswith(f"{owner} knows the client ID")
    calls = [c for c in srv.calls if c.vendor == name and c.kind == "token"]
    assert len(calls) == 2  # it really asked the token endpoint, each time


@pytest.mark.parametrize("name", VENDORS)
def test_unknown_client_id_and_wrong_secret_are_told_apart_from_a_known_client(srv: SandboxServer,
                                                                               name: str) -> None:
    id_name, secret_name = names(name)
    owner, portal = OWNERS[name]
    v = vendor(srv, name)
    with pytest.raises(ClientNotKnown) as unknown:
        v.check_client(id_name, "invented-unknown-client-id", REDIRECT)
    assert unknown.value.message.startswith(f"{owner} does not know this client ID") and portal in unknown.value.message
    with pytest.raises(ClientNotKnown) as wrong:
        v.check_client(secret_name, "invented-wrong-secret", REDIRECT)
    assert f"{owner} does not accept this client secret" in wrong.value.message


@pytest.mark.parametrize("name", VENDORS)
def test_unreachable_vendor_is_said_never_a_false_ok(srv: SandboxServer, name: str) -> None:
    cid, _ = srv.client(name)
    env = {f"WEARSYNC_{name.upper()}_TOKEN_URL": f"http://127.0.0.1:{free_port()}/token"}  # nothing listens
    with pytest.raises(OAuthError, match="could not reach"):
        vendor(srv, name, **env).check_client(names(name)[0], cid, REDIRECT)


@pytest.mark.parametrize("name", VENDORS)
def test_vendor_trouble_is_not_taken_for_an_answer(srv: SandboxServer, name: str) -> None:
    cid, _ = srv.client(name)
    srv.inject(name, "503", path="oauth2" if name != "fitbit" else "/token")
    with pytest.raises(OAuthError) as err:
        vendor(srv, name).check_client(names(name)[0], cid, REDIRECT)
    assert not isinstance(err.value, ClientNotKnown) and "knows" not in err.value.message


def test_the_other_half_must_be_set(srv: SandboxServer) -> None:
    cid, _ = srv.client("polar")
    env = {**srv.environ(), "POLAR_CLIENT_ID": cid}
    with pytest.raises(MissingSecret, match="Set the Polar client secret too"):
        VendorRegistry(env).get("polar").check_client("POLAR_CLIENT_ID", cid, REDIRECT)


def test_secrets_test_asks_the_vendor_through_the_app(sqlite_app, srv: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    sqlite_app.environ.update({**srv.environ(), **srv.credentials_environ()})
    assert run_secret_test(sqlite_app, HOST, "WITHINGS_CLIENT_ID") == "Withings knows this client ID."
    sqlite_app.environ["WITHINGS_CLIENT_SECRET"] = "invented-wrong-secret"
    with pytest.raises(ClientNotKnown):
        run_secret_test(sqlite_app, HOST, "WITHINGS_CLIENT_ID")
