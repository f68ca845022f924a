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
    help: str
    sensitive: bool = True
    required: bool = False  # needed for the daily work (vendor clients, alert sender); the rest is optional


# The seed's environment variable names (DESIGN.md) plus what WearSync itself needs.
SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("FITBIT_CLIENT_ID", "Google client ID (Fitbit)", "Fitbit / Google Health",
               "From Google Cloud console → APIs & Services → Credentials.", sensitive=False, required=True),
    SecretSpec("FITBIT_CLIENT_SECRET", "Google client secret (Fitbit)", "Fitbit / Google Health",
               "Shown next to the client ID in Google Cloud console.", required=True),
    SecretSpec("WITHINGS_CLIENT_ID", "Withings client ID", "Withings",
               "From the Withings developer dashboard.", sensitive=False, required=True),
    SecretSpec("WITHINGS_CLIENT_SECRET", "Withings client secret", "Withings",
               "From the Withings developer dashboard.", required=True),
    SecretSpec("POLAR_CLIENT_ID", "Polar client ID", "Polar",
               "From admin.polaraccesslink.com.", sensitive=False, required=True),
    SecretSpec("POLAR_CLIENT_SECRET", "Polar client secret", "Polar", "From admin.polaraccesslink.com.", required=True),
    SecretSpec("SECRET_USER", "MySQL writer user", "Database",
               "The MySQL account WearSync writes with.", sensitive=False),
    SecretSpec("SECRET_PASSWORD", "MySQL writer password", "Database", "Password of the writer account."),
    SecretSpec("DATA_PLATFORM_EMAIL", "Alert sender e-mail", "E-mail",
               "The Gmail (or SMTP) account that sends alerts.", sensitive=False, required=True),
    SecretSpec("DATA_PLATFORM_PASSWORD", "Alert sender password", "E-mail",
               "For Gmail, an app password from myaccount.google.com/apppasswords.", required=True),
    SecretSpec("EMAIL_LIST", "Alert recipients (legacy list)", "E-mail",
               'Imported into the recipient list, e.g. ["a@clinic.org", "b@clinic.org"].', sensitive=False),
    SecretSpec("DATAPLATFORM_URL", "Public WearSync URL (legacy)", "Tunnel",
               "Set automatically from the tunnel; kept for the old scripts.", sensitive=False),
    SecretSpec("GRAFANA_URL", "Grafana URL", "Grafana", "e.g. http://localhost:3000", sensitive=False),
    SecretSpec("GRAFANA_API_TOKEN", "Grafana service-account token", "Grafana",
               "Grafana → Administration → Service accounts → Add token."),
    SecretSpec("GRAFANA_DB_USER", "MySQL reader user (Grafana)", "Grafana",
               "The read-only MySQL account Grafana uses; set by Settings → Database.", sensitive=False),
    SecretSpec("GRAFANA_DB_PASSWORD", "MySQL reader password (Grafana)", "Grafana",
               "Password of the read-only account; set by Settings → Database."),
    SecretSpec("NGROK_AUTHTOKEN", "ngrok auth token", "Tunnel", "From dashboard.ngrok.com → Your Authtoken."),
    SecretSpec("GRAFANA_TUNNEL_PASSWORD", "Grafana tunnel password", "Tunnel",
               "Asked (with the user set on the Tunnel page) before Grafana opens through the tunnel."),
)
SPEC_BY_NAME: dict[str, SecretSpec] = {s.name: s for s in SECRETS}
