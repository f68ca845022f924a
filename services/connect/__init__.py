"""Connecting vendor accounts: the connection service, OAuth, the callback listener, tokens."""
