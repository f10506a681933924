"""Throttles that never turn a cache outage into an error.

Every API throttle keeps its counters in the cache (Redis, shared with the broker): a
sliding-window counter per scope and identity, one round trip per request
(web/sliding_window.py). A command needs only PostgreSQL, so when the cache raises, the request is let through
unthrottled: a warning is logged once per cooldown, the failure is counted, and the
throttles skip the cache for THROTTLE_CACHE_COOLDOWN_SECONDS so that each request does not
pay a connect timeout while Redis is away. Errors that are not the cache's (a body that does
not parse, a misconfigured rate) still raise.

Anonymous requests are counted per client address (`client_address`, which the lockout of
failed logins uses too): never an address the client can write itself.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time

from django.conf import settings
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from telemetry.counters import THROTTLE_CACHE_FAILURES, THROTTLE_UNTHROTTLED
from web.sliding_window import SlidingWindowThrottle

logger = logging.getLogger(__name__)

# What a cache client raises when its server is unreachable or too slow: redis-py's errors,
# and socket errors for clients that let them through.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


class CacheOutage:
    """The throttles' view of their cache, process-wide: whether to skip it, and counts a
    metrics endpoint can expose (`failures`: throttle checks the cache failed; `unthrottled`:
    throttle checks that let their request through without the cache)."""

    def __init__(self) -> None:
        self.failures = 0
        self.unthrottled = 0
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def skipping(self) -> bool:
        """True while the cache is being skipped after a failure."""
        return time.monotonic() < self._skip_until

    def let_through(self) -> bool:
        """Count a request allowed without a check; always True (the throttle's answer)."""
        with self._lock:
            self.unthrottled += 1
        THROTTLE_UNTHROTTLED.inc()
        return True

    def failed(self, error: Exception) -> None:
        """Record a cache failure and start a cooldown; warn unless one is already running
        (a request that raced the first failure does not log it twice)."""
        cooldown = float(settings.THROTTLE_CACHE_COOLDOWN_SECONDS)
        THROTTLE_CACHE_FAILURES.inc()
        with self._lock:
            self.failures += 1
            already_skipping = self.skipping()
            self._skip_until = time.monotonic() + cooldown
        if not already_skipping:
            logger.warning(
                "Throttle cache unavailable (%s: %s); requests go unthrottled, cache skipped for %.1f s",
                type(error).__name__,
                error,
                cooldown,
            )


cache_outage = CacheOutage()


class CacheOutageTolerant:
    """Mixin for a DRF throttle whose `allow_request` reads and writes the cache: a cache
    failure allows the request (see the module's docstring). Put it before the throttle."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        if cache_outage.skipping():
            return cache_outage.let_through()
        try:
            allowed: bool = super().allow_request(request, view)  # type: ignore[misc]
        except CACHE_ERRORS as error:
            cache_outage.failed(error)
            return cache_outage.let_through()
        return allowed


def client_address(request: HttpRequest | Request) -> str | None:
    """The client's address: REMOTE_ADDR or, with NUM_PROXIES = n proxies in front, the n-th
    address from the right of X-Forwarded-For (DRF's rule), so never a value the client wrote
    itself. Anything that is not an IP address there (a request that bypassed a proxy, or a
    proxy that adds a port) counts as REMOTE_ADDR. Throttles and lockouts (axes) use this."""
    # DRF's rule reads only headers and META, which a Django request has too (axes passes one).
    address: str | None = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        remote: str | None = request.META.get("REMOTE_ADDR")
        return remote
    return address


class ScopedThrottle(CacheOutageTolerant, ScopedRateThrottle, SlidingWindowThrottle):
    """DRF's ScopedRateThrottle (the view's `throttle_scope`, per user or client address),
    counted in a sliding window, tolerant of a cache outage. ScopedRateThrottle reads the
    view's rate, then hands on (super()) to SlidingWindowThrottle's count instead of DRF's list."""

    def get_ident(self, request: Request) -> str | None:  # type: ignore[override]
        return client_address(request)


class SideThrottle(ScopedThrottle):
    """Rate limits per side: `commands` for writes, `queries` for reads (a cache outage lets
    requests through, see CacheOutageTolerant)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        view.throttle_scope = "queries" if request.method in SAFE_METHODS else "commands"  # type: ignore[attr-defined]
        return super().allow_request(request, view)
