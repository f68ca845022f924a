"""The vendor registry: the one place that lists the vendors WearSync can connect.

Each vendor is one module here (fitbit.py, withings.py, polar.py) holding its OAuth quirks,
endpoints and payload parsers. Everything else asks this registry by vendor name and uses the
`Vendor` interface (services/vendors/base.py); adding a vendor = one module + one line below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

    def register_client_checks(self, secrets: SecretStore, redirect_uri: Callable[[], str]) -> None:
        """Settings → Secrets → Test on a vendor's client ID or secret asks that vendor (Vendor.check_client)."""
        def checker(vendor: str, tested: str) -> Callable[[str], str]:
            return lambda value: self.get(vendor).check_client(tested, value, redirect_uri())

        for name in self.names():
            for secret_name in self.get(name).client_secret_names():
                secrets.checkers[secret_name] = checker(name, secret_name)


__all__ = ["VENDOR_CLASSES", "Vendor", "VendorRegistry"]
