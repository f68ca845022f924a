"""Logging: a rotating file in the data directory, and a filter that keeps secrets out of it."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

# Anything that looks like a bearer token, an OAuth code/token parameter or a JSON token field.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:access_token|refresh_token|id_token|code|code_verifier|client_secret|password|"
               r"authtoken|state)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]{4,}"),
]
REDACTED = "[redacted]"


def redact(text: str) -> str:
    for pat in _PATTERNS:
        text = pat.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The log and its rotated copies are the owner's alone (0600), whatever the umask."""

    def _open(self):  # type: ignore[no-untyped-def]
        from services.filemodes import make_private

        stream = super()._open()
        make_private(Path(self.baseFilename))
        return stream


FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(log_dir: Path | None, level: int = logging.INFO, console: bool = False) -> Path | None:
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        if getattr(h, "_wearsync", False):
            root.removeHandler(h)
    handlers: list[logging.Handler] = []
    path = None
    if log_dir is not None:
        from services.filemodes import make_private_dir

        make_private_dir(log_dir)
        path = log_dir / "wearsync.log"
        handlers.append(PrivateRotatingFileHandler(path, maxBytes=2_000_000, backupCount=5,
                                                             encoding="utf-8"))
    if console:
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(logging.Formatter(FORMAT))
        h.addFilter(RedactingFilter())
        h._wearsync = True  # type: ignore[attr-defined]
        root.addHandler(h)
    # requests-oauthlib logs whole token requests and answers at DEBUG: never below WARNING
    for noisy in ("urllib3", "apscheduler.executors", "pyngrok.process", "requests_oauthlib", "oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
