"""Reaching outside the host: the ngrok tunnel, Grafana provisioning, MySQL set-up and database moves."""
