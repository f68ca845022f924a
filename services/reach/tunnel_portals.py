"""Where each vendor's redirect URI is registered, in words a clinic coordinator can follow."""

from __future__ import annotations

from dataclasses import dataclass

VENDORS: tuple[str, ...] = ("fitbit", "withings", "polar")
CALLBACK_PATH = "/oauth2_callback"


@dataclass(frozen=True)
class PortalInstruction:
    vendor: str
    portal_name: str
    portal_link: str
    redirect_uri: str
    note: str


def redirect_uri(public_url: str) -> str:
    return public_url.rstrip("/") + CALLBACK_PATH


def vendor_portal_instructions(new_url: str) -> list[PortalInstruction]:
    """One step per vendor for registering ``<new_url>/oauth2_callback`` as its redirect URI."""
    uri = redirect_uri(new_url)
    return [
        PortalInstruction(
            vendor="fitbit",
            portal_name="Google Cloud console → APIs & Services → Credentials",
            portal_link="https://console.cloud.google.com/apis/credentials",
            redirect_uri=uri,
            note=(
                "Sign in with the Google account that owns the WearSync project. Open the OAuth client "
                "whose Client ID is the one in WearSync's settings (FITBIT_CLIENT_ID). Under "
                '"Authorized redirect URIs" add this address exactly as shown, remove the old one, '
                'then press Save. Google can take a few minutes to use it. Only a "Web application" '
                'client has this list; a "Desktop app" client needs nothing here, but then patients '
                "can only give consent on this computer."
            ),
        ),
        PortalInstruction(
            vendor="withings",
            portal_name="Withings Developer Dashboard",
            portal_link="https://developer.withings.com/dashboard/",
            redirect_uri=uri,
            note=(
                'Sign in, open the WearSync application, and edit its "Callback URL" (registered '
                "URLs). Replace the old address with this one exactly as shown, then save. Withings "
                "only accepts https addresses like this one, never localhost."
            ),
        ),
        PortalInstruction(
            vendor="polar",
            portal_name="Polar AccessLink admin",
            portal_link="https://admin.polaraccesslink.com/",
            redirect_uri=uri,
            note=(
                "Sign in with the Polar Flow account that created the WearSync client, open that "
                'client, and change "Authorization callback domain" to this address exactly as '
                "shown, then save."
            ),
        ),
    ]
