"""The Settings page and its boxes (general, secrets, database with the MySQL wizard, Grafana, sandbox)."""
