"""Private file modes for the data folder: the folder (and every folder in it) 0700, every file 0600.

The data folder holds patient data, password hashes and encrypted tokens (the database, its WAL/SHM
files, logs, backups), so no other local user may read it. New files get these modes as they are
made (a private umask for the process, plus explicit modes where files are created); files left by
an older version are tightened at start. On Windows the per-user profile folder already restricts
access to its owner, and POSIX modes do not apply, so nothing is changed there.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
APPLIES = sys.platform != "win32"

_tightened: set[Path] = set()


def private_umask() -> None:
    """Files and folders this process creates are its owner's alone (0600/0700)."""
    if APPLIES:
        os.umask(0o077)


def make_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if APPLIES:
        try:
            os.chmod(path, DIR_MODE)
        except OSError as exc:  # a read-only folder: what needs writing there says so itself
            log.warning("could not make %s private (%s)", path.name, exc.strerror)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist (before a library opens it)."""
    if not APPLIES:
        return
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


def make_private(path: Path) -> None:
    if APPLIES and path.exists():
        os.chmod(path, FILE_MODE)


def tighten(home: Path, *, force: bool = False) -> int:
    """Bring the data folder and everything in it to 0700/0600 (once per process unless `force`);
    returns how many modes were changed. Symbolic links are left alone (not followed)."""
    if not APPLIES or not home.is_dir():
        return 0
    key = home.resolve()
    if key in _tightened and not force:
        return 0
    changed = 0
    for root, dirs, files in os.walk(home, followlinks=False):
        for name, wanted in [(".", DIR_MODE), *((d, DIR_MODE) for d in dirs), *((f, FILE_MODE) for f in files)]:
            p = Path(root) / name if name != "." else Path(root)
            try:
                st = p.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            if stat.S_IMODE(st.st_mode) != wanted:
                try:
                    os.chmod(p, wanted)
                    changed += 1
                except OSError as exc:
                    log.warning("could not make %s private (%s)", p.name, exc.strerror)
    _tightened.add(key)
    if changed:
        log.info("data folder: %d file modes tightened to owner-only", changed)
    return changed
