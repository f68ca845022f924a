"""No password or registration key appears in clear in any table, the audit CSV or the log file."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import inspect, text

from services.accounts.actor import HOST
from services.accounts.keys import normalize_key
from services.accounts.service import SignInFailed
from services.logging_setup import setup_logging


def _database_text(app) -> str:
    parts = []
    with app.db.engine.connect() as c:
        for table in inspect(c).get_table_names():
            q = app.db.engine.dialect.identifier_preparer.quote(table)
            for row in c.execute(text(f"SELECT * FROM {q}")):
                parts.append(" ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row))
    return "\n".join(parts)


def test_passwords_and_keys_never_stored_in_clear(app, tmp_path) -> None:
    log_file = setup_logging(tmp_path / "logs", level=logging.DEBUG)
    try:
        secrets_used = ["first admin passphrase x", "coordinator passphrase y", "typed by mistake zz1",
                        "changed later passphrase", "temporary one picked"]
        admin = app.accounts.create_first_admin("admin.anna", secrets_used[0])
        key = app.keys.generate(admin, role="coordinator")
        unused = app.keys.generate(admin, role="viewer")
        app.accounts.register(key.key, "coord.carla", secrets_used[1])
        # the classic slip: the password typed into the username box
        with pytest.raises(SignInFailed):
            app.accounts.authenticate(secrets_used[2], secrets_used[2])
        app.accounts.change_password(admin, secrets_used[0], secrets_used[3])
        app.accounts.reset_password("coord.carla", HOST, new_password=secrets_used[4])
        generated = app.accounts.reset_password("coord.carla", HOST)
        secrets_used += [generated, key.key, unused.key, normalize_key(key.key), normalize_key(unused.key)]

        dump = _database_text(app)
        assert "$argon2id$" in dump
        audit_csv = app.audit.to_csv()
        assert log_file is not None
        for h in logging.getLogger().handlers:
            h.flush()
        log_text = log_file.read_text(encoding="utf-8")
        for secret in secrets_used:
            for where, content in (("database", dump), ("audit", audit_csv), ("log", log_text)):
                assert secret.lower() not in content.lower(), f"a secret appears in the {where}"
    finally:
        setup_logging(None)
