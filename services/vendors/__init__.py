"""The vendor registry: the one place that lists the vendors WearSync can connect.

Each vendor is one module here (fitbit.py, withings.py, polar.py) holding its OAuth quirks,
endpoints and payload parsers. Everything else asks this registry by vendor name and uses the
`Vendor` interface (services/vendors/base.py); adding a vendor = one module + one line below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from services.clock import Clock
from services.config import check_vendor
from services.vendors.base import Vendor
from services.vendors.fitbit import Fitbit
from services.vendors.polar import Polar
from services.vendors.withings import Withings

if TYPE_CHECKING:
    from services.secrets import SecretStore

VENDOR_CLASSES: dict[str, type[Vendor]] = {cls.name: cls for cls in (Fitbit, Withings, Polar)}


class VendorRegistry:
    """Vendors configured from one environment (endpoint overrides, client credentials).

    `environ` is normally the app's environment; sandbox mode passes an overlay pointing at the
    sandbox so demo credentials never reach the real keyring.
    """

    def __init__(self, environ: Mapping[str, str], secrets: SecretStore | None = None,
                 clock: Clock | None = None) -> None:
        self.environ = environ
        self.secrets = secrets
        self.clock = clock or Clock.from_environ(environ)  # the app passes its own

    def get(self, name: str) -> Vendor:
        return VENDOR_CLASSES[check_vendor(name)](self.environ, self.secrets, clock=self.clock)

    def names(self) -> list[str]:
        return list(VENDOR_CLASSES)

    def label(self, name: str) -> str:
        return VENDOR_CLASSES[check_vendor(name)].label


__all__ = ["VENDOR_CLASSES", "Vendor", "VendorRegistry"]
