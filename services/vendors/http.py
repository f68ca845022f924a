"""Calling a vendor's data API the careful way (DESIGN.md "Faults and bad input").

- 401: refresh the token once and retry; a second 401 means the consent is gone.
- 429: wait as the vendor's headers say (Retry-After, Polar RateLimit-Reset), else back off with jitter.
- 5xx, timeouts, connection resets: a bounded number of retries with exponential backoff and jitter.
- With a quota limiter (services/sync/quota.py), every request first takes a slot in the vendor's
  documented windows, and every answer is fed back to it (429 / Polar RateLimit-* headers become a
  penalty that every worker of the process honours, not just this one).
- Anything else surfaces as a typed VendorCallError for the sync service to record.
The sleep function is injectable so tests never really wait.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from services.connect.oauth.base import ConsentRevoked
from services.errors import WearSyncError
from services.vendors.base import AuthExpired, RateLimited, Vendor, VendorUnavailable

if TYPE_CHECKING:  # requests loads with the first client, not with the module (issue 15: start-up)
    import requests

log = logging.getLogger(__name__)


class Limiter(Protocol):
    """The quota limiter every request passes (services/sync/quota.py's QuotaLimiter)."""

    def try_acquire(self, vendor: str, user_key: str) -> float: ...
    def penalise(self, vendor: str, user_key: str, seconds: float) -> None: ...
    def default_penalty(self, vendor: str) -> float: ...
    def observe(self, vendor: str, user_key: str, status: int, headers: Mapping[str, str],
                now: dt.datetime | None = None) -> float | None: ...

@cache
def network_errors() -> tuple[type[Exception], ...]:
    """What a lost network looks like to requests: retried like a vendor that did not answer."""
    import requests

    # a dropped connection can surface mid-body as a chunked-encoding error, not a ConnectionError
    return requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError


class RequestCancelled(WearSyncError):
    """Whoever started the download cancelled it: no further request is sent."""

    title = "Download cancelled"


class TokenProvider(Protocol):
    def access_token(self) -> str: ...

    def refresh(self, stale: str) -> str: ...


class ApiClient:
    def __init__(
        self,
        vendor: Vendor,
        tokens: TokenProvider,
        session: requests.Session | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        max_rate_waits: int = 5,
        max_wait_s: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        limiter: Limiter | None = None,
        user_key: str = "",
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.vendor = vendor
        self.tokens = tokens
        if session is None:
            import requests

            session = requests.Session()
        self.session = session
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_rate_waits = max_rate_waits
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.rand = rand
        self.limiter = limiter
        self.user_key = user_key
        # asked before every request and every wait: a cancel takes effect between two requests,
        # not at the end of a chunk that may hold dozens of pages
        self.should_stop = should_stop
        self.calls = 0
        self.retries = 0

    @property
    def base(self) -> str:
        return self.vendor.endpoints.api_url

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post_form(self, path: str, data: dict[str, Any]) -> Any:
        return self.request("POST", path, data=data)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: ~1, 2, 4, 8 s (capped), each scaled by 0.5..1."""
        return min(30.0, 2.0**attempt) * (0.5 + self.rand() / 2)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        url = self.base + path
        retried: tuple[type[Exception], ...] = (VendorUnavailable, *network_errors())
        refreshed = False
        failures = 0
        rate_waits = 0
        while True:
            self._check_stop()
            self._take_slot()  # before reading the token: a long wait must not hand over a stale one
            self._check_stop()
            token = self.tokens.access_token()
            self.calls += 1
            status = 0
            try:
                resp = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.timeout,
                )
                status = resp.status_code
                if self.limiter is not None:
                    self.limiter.observe(self.vendor.name, self.user_key, resp.status_code, resp.headers,
                                          self.vendor.clock.now())
                return self.vendor.check_response(resp)
            except AuthExpired:
                if refreshed:
                    raise ConsentRevoked(
                        f"{self.vendor.label} refuses the connection even after renewing it. Ask the patient "
                        "to connect again."
                    ) from None
                refreshed = True
                log.info("%s: access token refused, renewing once", self.vendor.name)
                self.tokens.refresh(token)
            except RateLimited as exc:
                rate_waits += 1
                if rate_waits > self.max_rate_waits:
                    raise
                wait = exc.wait_s if exc.wait_s is not None else self.backoff(rate_waits)
                if wait > self.max_wait_s:
                    raise self._quota_used_up(wait) from None
                log.info("%s: rate limited, waiting %.1f s", self.vendor.name, wait)
                self.retries += 1
                if self.limiter is None:
                    self.sleep(max(0.0, wait))
                elif status != 429:
                    # a 429 was already observed as a penalty; Withings says "slow down" inside a 200
                    # body, which only the vendor module can read. The next _take_slot() waits it out.
                    self.limiter.penalise(self.vendor.name, self.user_key,
                                          exc.wait_s or self.limiter.default_penalty(self.vendor.name))
            except retried as exc:
                failures += 1
                if failures > self.max_retries:
                    if isinstance(exc, VendorUnavailable):
                        raise
                    raise VendorUnavailable(
                        f"{self.vendor.label} did not answer ({_kind(exc)}) after {failures} tries."
                    ) from None
                wait = self.backoff(failures)
                log.info("%s: %s, retry %d in %.1f s", self.vendor.name, _kind(exc), failures, wait)
                self.retries += 1
                self.sleep(wait)


    def _check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise RequestCancelled("The download was cancelled. What was downloaded is kept.")

    def _take_slot(self) -> None:
        """Wait (through the injectable sleep) until the vendor's quota allows one more request."""
        if self.limiter is None:
            return
        while True:
            wait = self.limiter.try_acquire(self.vendor.name, self.user_key)
            if wait <= 0:
                return
            if wait > self.max_wait_s:
                raise self._quota_used_up(wait)
            self.sleep(wait)

    def _quota_used_up(self, wait: float) -> RateLimited:
        return RateLimited(
            f"{self.vendor.label}'s request quota is used up for now; the download continues on the next run.",
            wait,
        )


def _kind(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection lost"
    return "server error"
