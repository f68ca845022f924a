"""The vendor registry: the one place that lists the vendors WearSync can connect.

Each vendor is one module here (fitbit.py, withings.py, polar.py) holding its OAuth quirks,
endpoints and payload parsers. Everything else asks this registry by vendor name and uses the
`Vendor` interface (services/vendors/base.py); adding a vendor = one module + one line below.

The list names each vendor's class by module path; a vendor module (and requests, oauthlib with
it) is imported the first time its class is looked up, so the window and commands that never talk
to a vendor start without them (issue 15).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from services.clock import Clock
from services.config import check_vendor
from services.vendors.base import Vendor

if TYPE_CHECKING:
    from services.secrets import SecretStore

# vendor name -> "module:Class", in the order the vendors are offered
VENDOR_MODULES: dict[str, str] = {
    "fitbit": "services.vendors.fitbit:Fitbit",
    "withings": "services.vendors.withings:Withings",
    "polar": "services.vendors.polar:Polar",
}


class _VendorClasses(Mapping[str, type[Vendor]]):
    """`VENDOR_CLASSES`: vendor name -> its Vendor class, the class's module imported on first lookup."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = paths
        self._loaded: dict[str, type[Vendor]] = {}

    def __getitem__(self, name: str) -> type[Vendor]:
        cls = self._loaded.get(name)
        if cls is None:
            module, _, attr = self._paths[name].partition(":")
            found = getattr(importlib.import_module(module), attr)
            if not (isinstance(found, type) and issubclass(found, Vendor)) or found.name != name:
                raise TypeError(f"{self._paths[name]} is not the vendor {name!r}")
            cls = self._loaded[name] = found
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def loaded(self) -> list[str]:
        """The vendors whose module has been imported (for tests)."""
        return list(self._loaded)


VENDOR_CLASSES = _VendorClasses(VENDOR_MODULES)


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


__all__ = ["VENDOR_CLASSES", "VENDOR_MODULES", "Vendor", "VendorRegistry"]
