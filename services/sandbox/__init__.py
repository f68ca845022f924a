"""Local stand-ins for the vendor APIs (Google Health API for Fitbit, Withings, Polar AccessLink).

Used by the test-suite and by ``main.py --sandbox``. No Qt here. See README.md in this folder.
"""

from .core import Call, SandboxError
from .model import SandboxUser
from .server import DEMO_USERS, FAULTS, SandboxServer

__all__ = ["DEMO_USERS", "FAULTS", "Call", "SandboxError", "SandboxServer", "SandboxUser"]
