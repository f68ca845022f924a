"""Run uv, installing it first if this computer does not have it yet.

    python3 bootstrap.py run main.py     open WearSync (dependencies install on the first run)
    python3 bootstrap.py run pytest      run the test suite

Everything after `bootstrap.py` is handed to uv unchanged. uv is looked for on PATH, then in
WearSync's own tool folder; when missing it is installed with pip (user site), or, where pip may not
install (a system Python marked "externally managed"), its wheel is fetched from PyPI and the uv
program unpacked into WearSync's tool folder. Only the Python standard library is used here.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXE = ".exe" if os.name == "nt" else ""


def tool_dir() -> Path:
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "wearsync-tools"


def say(msg: str) -> None:
    sys.stderr.write(f"[bootstrap] {msg}\n")
    sys.stderr.flush()


def find_uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    candidates = [
        tool_dir() / f"uv{EXE}",
        Path(sysconfig.get_path("scripts", f"{os.name}_user")) / f"uv{EXE}",
        Path(sysconfig.get_path("scripts")) / f"uv{EXE}",
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    return None


def install_with_pip() -> bool:
    say("uv is not installed; installing it with pip (user site) ...")
    cmd = [sys.executable, "-m", "pip", "install", "--user", "--quiet", "uv"]
    try:
        return subprocess.run(cmd, check=False).returncode == 0
    except OSError:
        return False


def _wheel_tags() -> list[str]:
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return [f"manylinux_2_17_{arch}", f"manylinux2014_{arch}", f"musllinux_1_1_{arch}"]
    if sys.platform == "darwin":
        return ["macosx_10_12_x86_64" if arch == "x86_64" else "macosx_11_0_arm64"]
    if os.name == "nt":
        return ["win_amd64" if arch == "x86_64" else "win_arm64"]
    return []


def install_from_pypi() -> bool:
    """Fetch the uv wheel for this platform from PyPI and unpack only the uv program."""
    say("fetching uv from PyPI ...")
    index = os.environ.get("WEARSYNC_PYPI_JSON", "https://pypi.org/pypi/uv/json")
    try:
        with urllib.request.urlopen(index, timeout=60) as resp:  # noqa: S310 - fixed https URL
            meta = json.load(resp)
    except OSError as exc:
        say(f"could not reach PyPI: {exc}")
        return False
    tags = _wheel_tags()
    files = [f for f in meta.get("urls", []) if f.get("packagetype") == "bdist_wheel"]
    chosen = next((f for t in tags for f in files if t in f["filename"]), None)
    if chosen is None:
        say("PyPI has no uv build for this computer; install uv by hand: https://docs.astral.sh/uv/")
        return False
    url = urllib.parse.urljoin(index, chosen["url"])  # mirrors answer with relative links
    with urllib.request.urlopen(url, timeout=300) as resp:  # noqa: S310
        data = resp.read()
    target = tool_dir()
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        member = next(n for n in wheel.namelist() if n.endswith(f"/scripts/uv{EXE}"))
        out = target / f"uv{EXE}"
        out.write_bytes(wheel.read(member))
        out.chmod(0o755)
    return True


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write(__doc__ or "")
        return 2
    uv = find_uv()
    if uv is None and install_with_pip():
        uv = find_uv()
    if uv is None and install_from_pypi():
        uv = find_uv()
    if uv is None:
        say("uv could not be installed. Install it by hand (https://docs.astral.sh/uv/) and run this again.")
        return 1
    os.chdir(HERE)
    cmd = [uv, *argv]
    if os.name == "nt":
        return subprocess.call(cmd)
    os.execv(uv, cmd)  # noqa: S606 - replace this process with uv, arguments passed as given
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
