"""Vendor request quotas: a limiter every vendor call passes through, and backfill estimates.

Each vendor documents its limits differently (VENDORS.md):
- Google Health (fitbit): 300 requests/min per user, 120,000/min per project.
- Withings: 120 requests/min per application.
- Polar AccessLink: per application 500 + 20 × users per 15 min and 5000 + 100 × users per 24 h.

The limiter keeps a sliding log of request times per window, so no window of the documented length
ever holds more requests than allowed; it is stricter than a fixed window and never trips the
vendor's counter. A 429 (or Polar's RateLimit-* headers) adds a penalty: no request for that scope
until the vendor's reset. `acquire()` blocks the calling worker, never the UI thread.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], None]

APP = "*"  # the scope key of an application-wide window


@dataclass(frozen=True)
class Window:
    """At most `limit` requests in any `seconds`-long interval, counted per user or per app."""

    name: str
    limit: int
    seconds: float
    per_user: bool


def windows_for(vendor: str, users: int = 0) -> tuple[Window, ...]:
    """The documented limits of a vendor; `users` = registered users (Polar scales with it)."""
    if vendor == "fitbit":
        return (Window("per-user minute", 300, 60.0, True), Window("project minute", 120_000, 60.0, False))
    if vendor == "withings":
        return (Window("application minute", 120, 60.0, False),)
    if vendor == "polar":
        n = max(0, users)
        return (
            Window("15-minute", 500 + 20 * n, 15 * 60.0, False),
            Window("24-hour", 5000 + 100 * n, 24 * 3600.0, False),
        )
    raise ValueError(f"unknown vendor {vendor!r}")


# Waiting after a 429 whose reply says nothing about when to retry: one full short window.
DEFAULT_PENALTY_S = {"fitbit": 60.0, "withings": 60.0, "polar": 15 * 60.0}
# A 429 at Google is per user; Withings and Polar count the whole application.
PENALTY_PER_USER = {"fitbit": True, "withings": False, "polar": False}


def retry_after_seconds(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP date); None when absent/garbled.
    An HTTP date is compared with `now` (the app clock's, aware); without it, a date counts as no wait."""
    raw = _header(headers, "Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if now is None:
        return None
    return max(0.0, (when - now).total_seconds())


def polar_reset_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until Polar's exhausted window resets, from RateLimit-Usage/Limit/Reset.

    Polar sends one comma-separated value per window (short, long). Returns the longest reset of
    any window whose usage has reached its limit, or None when no window is exhausted.
    """
    usage, limit, reset = (_numbers(_header(headers, h)) for h in
                           ("RateLimit-Usage", "RateLimit-Limit", "RateLimit-Reset"))
    if not usage or not limit or not reset:
        return None
    waits = [r for u, lim, r in zip(usage, limit, reset, strict=False) if lim > 0 and u >= lim]
    return max(waits) if waits else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def _numbers(raw: str | None) -> list[float]:
    if not raw:
        return []
    out = []
    for part in raw.split(","):
        try:
            out.append(float(part.strip()))
        except ValueError:
            return []
    return out


@dataclass
class _Scope:
    log: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class QuotaLimiter:
    """Thread-safe; one per process, shared by every worker. Clock and sleep are injectable."""

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                 users: Mapping[str, int] | None = None) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._users: dict[str, int] = dict(users or {})
        self._scopes: dict[tuple[str, str, str], _Scope] = {}

    def set_users(self, vendor: str, users: int) -> None:
        """Polar's limits grow with the number of registered users."""
        with self._lock:
            self._users[vendor] = users

    def acquire(self, vendor: str, user_key: str) -> float:
        """Block until one request to `vendor` for `user_key` is allowed; returns seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                wait = self._try_take(vendor, user_key)
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def try_acquire(self, vendor: str, user_key: str) -> float:
        """Take a slot now if one is free (returns 0.0), else return the seconds to wait."""
        with self._lock:
            return self._try_take(vendor, user_key)

    def default_penalty(self, vendor: str) -> float:
        """The wait after a "slow down" that does not say how long."""
        return DEFAULT_PENALTY_S.get(vendor, 60.0)

    def penalise(self, vendor: str, user_key: str, seconds: float) -> None:
        """No request for this scope until `seconds` from now (a 429, or a quota about to run out)."""
        key = user_key if PENALTY_PER_USER.get(vendor, False) else APP
        with self._lock:
            scope = self._scopes.setdefault((vendor, "penalty", key), _Scope())
            scope.blocked_until = max(scope.blocked_until, self._clock() + max(0.0, seconds))

    def observe(self, vendor: str, user_key: str, status: int, headers: Mapping[str, str],
                now: dt.datetime | None = None) -> float | None:
        """Feed every response's status and headers; applies and returns a penalty when due."""
        wait: float | None = None
        if vendor == "polar":
            wait = polar_reset_seconds(headers)
        if status == 429 or (vendor == "withings" and status == 601):
            wait = retry_after_seconds(headers, now) or wait or DEFAULT_PENALTY_S.get(vendor, 60.0)
        if wait is not None:
            self.penalise(vendor, user_key, wait)
        return wait

    # -- internals (called with the lock held)
    def _try_take(self, vendor: str, user_key: str) -> float:
        now = self._clock()
        wins = windows_for(vendor, self._users.get(vendor, 0))
        wait = 0.0
        penalty_keys = (user_key, APP) if PENALTY_PER_USER.get(vendor, False) else (APP,)
        for key in penalty_keys:
            scope = self._scopes.get((vendor, "penalty", key))
            if scope is not None:
                wait = max(wait, scope.blocked_until - now)
        scopes = []
        for w in wins:
            scope = self._scopes.setdefault((vendor, w.name, user_key if w.per_user else APP), _Scope())
            while scope.log and scope.log[0] <= now - w.seconds:
                scope.log.popleft()
            if len(scope.log) >= w.limit:
                # the oldest request in the window must age out before another fits
                wait = max(wait, scope.log[len(scope.log) - w.limit] + w.seconds - now)
            scopes.append(scope)
        if wait > 0:
            return wait
        for scope in scopes:
            scope.log.append(now)
        return 0.0


# --------------------------------------------------------------------------- backfill estimates


@dataclass(frozen=True)
class VendorCost:
    """How many requests one connection costs for `days` days (the connectors' fetch pattern)."""

    vendor: str
    fixed: int  # per connection per run: identity/settings/devices
    per_day: Callable[[int], int]


def _chunks(days: int, window: int) -> list[int]:
    full, rest = divmod(days, window)
    return [window] * full + ([rest] if rest else [])


def _paged(days: int, window: int, points_per_day: float, page_size: int) -> int:
    """Requests to fetch `days` in windows of `window` days, paging `page_size` points a page."""
    return sum(max(1, math.ceil(n * points_per_day / page_size)) for n in _chunks(days, window))


# Assumed densities: steps are 1-minute intervals; heart rate about one sample per 10 s while
# worn; ~1.2 sleep sessions a night (naps); Polar ~1 recorded exercise a day at most.
GOOGLE_HR_PER_DAY = 8640
POLAR_HISTORY_DAYS = 30  # AccessLink lists only the last 30 days of exercises
POLAR_EXERCISES_PER_DAY = 1.0


def _google(days: int) -> int:
    return (_paged(days, 90, 1440, 10_000)  # steps
            + _paged(days, 14, GOOGLE_HR_PER_DAY, 10_000)  # heart-rate: 14-day limit per request
            + _paged(days, 90, 1, 10_000)  # daily resting heart rate
            + _paged(days, 90, 1.2, 25))  # sleep: pageSize max 25


def _withings(days: int) -> int:
    return (len(_chunks(days, 30))  # sleep summary, one call per 30-night range
            + days  # sleep detail: max 24 h per call, one per night
            + len(_chunks(days, 30)))  # measures


def _polar(days: int) -> int:
    reachable = min(days, POLAR_HISTORY_DAYS)
    return (1  # exercise list
            + math.ceil(reachable * POLAR_EXERCISES_PER_DAY)  # one detail call per exercise
            + len(_chunks(reachable, 28)))  # daily activity


COSTS: dict[str, VendorCost] = {
    "fitbit": VendorCost("fitbit", 2, _google),
    "withings": VendorCost("withings", 1, _withings),
    "polar": VendorCost("polar", 0, _polar),
}
LATENCY_S = 0.4  # average round trip of one vendor request
WORKERS = 4  # connections downloading at the same time


@dataclass(frozen=True)
class VendorEstimate:
    vendor: str
    connections: int
    requests: int
    seconds: float
    limited_by: str  # "network" or the name of the quota window that sets the pace


@dataclass(frozen=True)
class Estimate:
    requests: int
    seconds: float
    vendors: tuple[VendorEstimate, ...] = ()

    def describe(self) -> str:
        """One plain sentence for the backfill dialog."""
        if self.requests == 0:
            return "Nothing to download."
        slowest = max(self.vendors, key=lambda v: v.seconds, default=None)
        pace = ""
        if slowest is not None and slowest.limited_by != "network":
            pace = f" ({slowest.vendor.capitalize()}'s {slowest.limited_by} limit sets the pace)"
        took = format_duration(self.seconds)
        took = "less than a minute" if took == "under a minute" else f"about {took}"  # never "about under"
        return f"About {self.requests:,} requests, {took}{pace}."


def format_duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return "under a minute"
    minutes = math.ceil(s / 60)
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, mins = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {mins:02d} min"
    return f"{hours / 24:.1f} days"


def _window_bound(requests: int, window: Window) -> float:
    """Sliding window from empty: request k (0-based) can go at floor(k / limit) × window."""
    if requests <= 0:
        return 0.0
    return ((requests - 1) // window.limit) * window.seconds


def requests_for(vendor: str, days: int) -> int:
    """Requests one connection of `vendor` costs to fetch `days` days."""
    if days <= 0:
        return 0
    cost = COSTS[vendor]
    return cost.fixed + cost.per_day(days)


def vendor_estimate(vendor: str, per_connection: list[int], *, users: int | None = None,
                    latency_s: float = LATENCY_S, workers: int = WORKERS) -> VendorEstimate:
    """Time for these per-connection request counts under the vendor's windows."""
    counts = [r for r in per_connection if r > 0]
    n = len(counts)
    total = sum(counts)
    network = total * latency_s / max(1, min(workers, n))
    bounds = [("network", network)]
    for w in windows_for(vendor, users if users is not None else n):
        bounds.append((w.name, _window_bound(max(counts, default=0) if w.per_user else total, w)))
    limited_by, seconds = max(bounds, key=lambda b: b[1])
    return VendorEstimate(vendor, n, total, seconds, limited_by)


def combine(parts: list[VendorEstimate]) -> Estimate:
    """Vendors download in parallel: the total time is the slowest vendor's."""
    parts = [p for p in parts if p.requests > 0]
    return Estimate(
        requests=sum(p.requests for p in parts),
        seconds=max((p.seconds for p in parts), default=0.0),
        vendors=tuple(parts),
    )


def estimate_backfill(vendor_counts: Mapping[str, int], days: int, *, polar_users: int | None = None,
                      latency_s: float = LATENCY_S, workers: int = WORKERS) -> Estimate:
    """Requests and time to download `days` days for `vendor_counts[vendor]` connections each.

    `polar_users` is the number of users registered with Polar (defaults to the Polar connections
    being fetched); Polar's limits grow with it.
    """
    parts = []
    for vendor, n in vendor_counts.items():
        if n <= 0 or days <= 0:
            continue
        users = polar_users if vendor == "polar" else None
        parts.append(vendor_estimate(vendor, [requests_for(vendor, days)] * n, users=users,
                                     latency_s=latency_s, workers=workers))
    return combine(parts)


_shared: QuotaLimiter | None = None
_shared_lock = threading.Lock()


def shared_limiter() -> QuotaLimiter:
    """The one limiter of this process: every worker must count against the same windows."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = QuotaLimiter()
        return _shared
