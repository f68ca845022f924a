"""Keep secrets out of log lines written by libraries we do not control.

pyngrok logs every agent line (the agent quotes a rejected authtoken back) and the JSON of each
tunnel it opens (which holds Grafana's basic-auth password). A filter on those loggers replaces
every registered secret with ``***`` before any handler sees the record.
"""

from __future__ import annotations

import logging
import threading

_MASK = "***"


class SecretRedactor(logging.Filter):
    """A logging filter that masks registered secret strings in the formatted message."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            # Very short values would mask ordinary words; real tokens and passwords are longer.
            self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, _MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's problem, not ours
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


_redactor = SecretRedactor()
_attached: set[str] = set()
_attach_lock = threading.Lock()


def redact_in_loggers(logger_names: tuple[str, ...], *secrets: str | None) -> SecretRedactor:
    """Mask ``secrets`` in records created by the named loggers (filters do not inherit)."""
    _redactor.add(*secrets)
    with _attach_lock:
        for name in logger_names:
            if name not in _attached:
                logging.getLogger(name).addFilter(_redactor)
                _attached.add(name)
    return _redactor
