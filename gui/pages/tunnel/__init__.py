"""The Tunnel page and its settings."""
