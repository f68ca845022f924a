"""The application facade: one object that owns the services. The GUI and the CLI use only this."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from db.engine import Database
from db.migrate import upgrade
from services import config
from services.accounts import AccountService
from services.audit import AuditLog
from services.crypto import TokenCipher
from services.patients import PatientService
from services.registration_keys import KeyService
from services.secrets import SecretStore
from services.settings import Settings

log = logging.getLogger(__name__)


class WearSync:
    """Build with `WearSync.open()`; close with `close()`."""

    def __init__(self, db: Database, paths: config.Paths, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.paths = paths
        self.db = db
        self.secrets = SecretStore(environ)
        self.cipher = TokenCipher(self.secrets)
        self.audit = AuditLog(db)
        self.settings = Settings(db)
        self.patients = PatientService(db, self.audit)
        self.keys = KeyService(db, self.audit)
        self.accounts = AccountService(db, self.audit, self.keys)
        self._background_starters: list[Callable[[], None]] = []
        self._background_stoppers: list[Callable[[], None]] = []

    @classmethod
    def open(cls, environ: Mapping[str, str] | None = None, migrate: bool = True) -> WearSync:
        env = dict(os.environ if environ is None else environ)
        paths = config.paths(env).ensure()
        db = Database(config.database_url(env))
        if migrate:
            backup = upgrade(db, backup_dir=paths.backups)
            if backup:
                log.info("backup made before the schema upgrade: %s", Path(backup).name)
        app = cls(db, paths, env)
        try:
            app.patients.purge_deleted()
        except Exception:  # housekeeping must never stop the app from opening
            log.exception("purging deleted patients failed")
        try:
            app.keys.purge_expired_keys()
        except Exception:
            log.exception("purging expired registration keys failed")
        return app

    def close(self) -> None:
        self.db.dispose()

    # Background work (scheduler, callback listener, tunnel) is attached by later services;
    # the GUI and --headless both call these two.
    def start_background(self) -> None:
        for start in self._background_starters:
            start()

    def stop_background(self) -> None:
        for stop in reversed(self._background_stoppers):
            try:
                stop()
            except Exception:
                log.exception("stopping a background service failed")
