"""Build the self-contained WearSync folder for this OS with PyInstaller, then smoke-test it.

    python3 bootstrap.py run --group bundle python installer/build.py [--no-smoke]

Result: dist/WearSync/ (Linux and Windows: the `WearSync` executable inside; macOS: dist/WearSync.app).
The smoke test (installer/smoke.py) runs the built program without this project's virtualenv.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-smoke", action="store_true", help="build only")
    ap.add_argument("--dist", default=str(ROOT / "dist"), help="output folder (default: dist/)")
    args = ap.parse_args(argv)
    dist = Path(args.dist)
    work = ROOT / "build" / "pyinstaller"
    shutil.rmtree(dist / "WearSync", ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(work), str(ROOT / "installer" / "wearsync.spec")],
                   check=True, cwd=ROOT)
    took = time.monotonic() - started
    out = dist / "WearSync"
    print(f"built {out} in {took:.0f} s; {folder_size(out) / 2**20:.0f} MiB")
    if args.no_smoke:
        return 0
    from smoke import smoke  # installer/smoke.py, beside this file

    return smoke(out)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
