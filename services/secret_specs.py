"""The secrets WearSync knows by name, with the label and help the window and `main.py secrets` show.

A module of its own, without the keyring: building `main.py --help` names them without loading the
password store (services/secrets.py re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SECRETS", "SPEC_BY_NAME", "SecretSpec"]


@dataclass(frozen=True)
class SecretSpec:
    name: str
    label: str
    group: str
    #: where it comes from: the section (anchor) of docs/vendor-setup.md that says how to get it
    guide: str
    help: str
    sensitive: bool = True
    required: bool = False  # needed for the daily work (vendor clients, alert sender); the rest is optional


# The seed's environment variable names (DESIGN.md) plus what WearSync itself needs.
SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("FITBIT_CLIENT_ID", "Google client ID (Fitbit)", "Fitbit / Google Health", "fitbit",
               "From Google Cloud console → APIs & Services → Credentials.", sensitive=False, required=True),
    SecretSpec("FITBIT_CLIENT_SECRET", "Google client secret (Fitbit)", "Fitbit / Google Health", "fitbit",
               "Shown next to the client ID in Google Cloud console.", required=True),
    SecretSpec("WITHINGS_CLIENT_ID", "Withings client ID", "Withings", "withings",
               "From the Withings developer dashboard.", sensitive=False, required=True),
    SecretSpec("WITHINGS_CLIENT_SECRET", "Withings client secret", "Withings", "withings",
               "From the Withings developer dashboard.", required=True),
    SecretSpec("POLAR_CLIENT_ID", "Polar client ID", "Polar", "polar",
               "From admin.polaraccesslink.com.", sensitive=False, required=True),
    SecretSpec("POLAR_CLIENT_SECRET", "Polar client secret", "Polar", "polar",
               "From admin.polaraccesslink.com.", required=True),
    SecretSpec("SECRET_USER", "MySQL writer user", "Database", "database",
               "The MySQL account WearSync writes with.", sensitive=False),
    SecretSpec("SECRET_PASSWORD", "MySQL writer password", "Database", "database",
               "Password of the writer account."),
    SecretSpec("DATA_PLATFORM_EMAIL", "Alert sender e-mail", "E-mail", "email",
               "The Gmail (or SMTP) account that sends alerts.", sensitive=False, required=True),
    SecretSpec("DATA_PLATFORM_PASSWORD", "Alert sender password", "E-mail", "email",
               "For Gmail, an app password from myaccount.google.com/apppasswords.", required=True),
    SecretSpec("EMAIL_LIST", "Alert recipients (legacy list)", "E-mail", "email",
               'Imported into the recipient list, e.g. ["a@clinic.org", "b@clinic.org"].', sensitive=False),
    SecretSpec("DATAPLATFORM_URL", "Public WearSync URL (legacy)", "Tunnel", "tunnel",
               "Set automatically from the tunnel; kept for the old scripts.", sensitive=False),
    SecretSpec("GRAFANA_URL", "Grafana URL", "Grafana", "grafana",
               "e.g. http://localhost:3000", sensitive=False),
    SecretSpec("GRAFANA_API_TOKEN", "Grafana service-account token", "Grafana", "grafana",
               "Grafana → Administration → Service accounts → Add token."),
    SecretSpec("GRAFANA_DB_USER", "MySQL reader user (Grafana)", "Grafana", "database",
               "The read-only MySQL account Grafana uses; set by Settings → Database.", sensitive=False),
    SecretSpec("GRAFANA_DB_PASSWORD", "MySQL reader password (Grafana)", "Grafana", "database",
               "Password of the read-only account; set by Settings → Database."),
    SecretSpec("NGROK_AUTHTOKEN", "ngrok auth token", "Tunnel", "tunnel",
               "From dashboard.ngrok.com → Your Authtoken."),
    SecretSpec("GRAFANA_TUNNEL_PASSWORD", "Grafana tunnel password", "Tunnel", "tunnel",
               "Asked (with the user set on the Tunnel page) before Grafana opens through the tunnel."),
)
SPEC_BY_NAME: dict[str, SecretSpec] = {s.name: s for s in SECRETS}
