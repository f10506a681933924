"""Rate limits that cost one cache round trip and constant work per request.

A throttle allows `num_requests` per `duration` seconds (DRF's rate, e.g. "6000/min") per
cache key (scope and identity). Time is cut into fixed windows of `duration` seconds; each
keeps one counter of the requests it allowed. A request a fraction f into the current window
counts the previous window's requests at weight 1 - f, as if they had come evenly:

    allowed  <=>  current + previous * (1 - f) + 1 <= num_requests

Guarantees:
* Exact at the limit: never more than num_requests pass in one window, and in a window whose
  predecessor was quiet the first num_requests pass and the next is refused. The check and
  the count are one atomic step (a Lua script on Redis; increment-then-check under the
  cache's own atomic incr otherwise), so requests racing for the last place cannot both
  take it.
* Over any `duration` seconds, at most num_requests when the previous window's requests came
  evenly; at worst (all of them at its very end) 2 * num_requests - 1.
* Refused requests are not counted (DRF's throttle did not record them either): a client that
  keeps knocking while refused cannot push its own release further away. It is let in again
  at the latest 2 * duration after the requests that filled its budget, and Retry-After says
  when (wait()).
* One round trip and O(1) work per check on Redis (two small counters per scope and identity,
  never a list), at most four O(1) calls on another cache (the embedded default's local
  memory), whatever the number of requests in the window.

Why not DRF's SimpleRateThrottle: it keeps every allowed request's timestamp in one cached
list, so each check reads the pickled list, trims it, and writes it all back: two round trips
and work proportional to the requests in the window (6000 floats each way for a busy user at
the default `commands` rate; the whole last minute at a benchmark's lifted rate). Its rates,
scopes, keys, clock (`timer`) and settings (DEFAULT_THROTTLE_RATES) are kept: this subclasses it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache.backends.base import BaseCache
from redis.exceptions import NoScriptError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


def passes(current: int, previous: int, previous_weight: float, num_requests: int) -> bool:
    """Whether a request passes, the counts not including it. COUNT_IN_WINDOW decides the
    same, in the same order of floating-point operations (Lua's numbers are doubles too)."""
    return current + previous * previous_weight + 1 <= num_requests


# KEYS: the current window's counter, the previous one's. ARGV: num_requests, the previous
# window's weight (1 - f), the current counter's lifetime in seconds. Returns {allowed (0/1),
# current (after counting this request if allowed), previous}.
COUNT_IN_WINDOW = """
local counts = redis.call('MGET', KEYS[1], KEYS[2])
local current = tonumber(counts[1]) or 0
local previous = tonumber(counts[2]) or 0
if current + previous * tonumber(ARGV[2]) + 1 > tonumber(ARGV[1]) then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, current, previous}
"""
COUNT_IN_WINDOW_SHA = hashlib.sha1(COUNT_IN_WINDOW.encode()).hexdigest()


def redis_client(cache: BaseCache) -> Any | None:
    """The writing Redis client behind Django's RedisCache (config/cache.py), or None for a
    cache that is not Redis. Django's cache proxy passes the attribute through."""
    cache_client = getattr(cache, "_cache", None)
    get_client = getattr(cache_client, "get_client", None)
    return get_client(write=True) if callable(get_client) else None


class SlidingWindowThrottle(SimpleRateThrottle):
    """DRF's SimpleRateThrottle with a sliding-window counter instead of a request list (see
    the module's docstring). Subclasses give `get_cache_key` as for DRF's."""

    # Parsed from the rate by DRF (parse_rate) before a check; DRF's stubs do not declare them.
    num_requests: int
    duration: int
    # What a check found, for wait(): when (`now`, `fraction` of the way into its window),
    # the current window's count and the previous one's.
    now: float
    fraction: float
    current: int
    previous: int

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = float(self.timer())
        window, into = divmod(self.now, self.duration)
        self.fraction = into / self.duration
        current_key, previous_key = f"{key}:{int(window)}", f"{key}:{int(window) - 1}"
        client = redis_client(self.cache)
        if client is not None:
            # The script names Redis's own keys: the cache's prefix and version, as its API's.
            current_key, previous_key = self.cache.make_key(current_key), self.cache.make_key(previous_key)
            allowed, self.current, self.previous = self._count_in_redis(client, current_key, previous_key)
        else:
            allowed, self.current, self.previous = self._count_in_cache(current_key, previous_key)
        return allowed

    def _count_in_redis(self, client: Any, current_key: str, previous_key: str) -> tuple[bool, int, int]:
        # A counter is read as the previous window's until the next window ends: 2 * duration.
        arguments = (current_key, previous_key, self.num_requests, 1.0 - self.fraction, 2 * self.duration)
        try:
            answer = client.evalsha(COUNT_IN_WINDOW_SHA, 2, *arguments)
        except NoScriptError:  # Redis restarted or flushed its scripts: EVAL loads it again
            answer = client.eval(COUNT_IN_WINDOW, 2, *arguments)
        allowed, current, previous = answer
        return bool(allowed), int(current), int(previous)

    def _count_in_cache(self, current_key: str, previous_key: str) -> tuple[bool, int, int]:
        # Count first, then check: the cache's incr is atomic (local memory's takes its lock),
        # so requests racing for the last place never both keep it; the loser gives it back.
        self.cache.add(current_key, 0, 2 * self.duration)
        try:
            current = int(self.cache.incr(current_key))
        except ValueError:  # culled since the add (local memory keeps at most MAX_ENTRIES keys)
            self.cache.set(current_key, 1, 2 * self.duration)
            current = 1
        previous = int(self.cache.get(previous_key) or 0)
        if not passes(current - 1, previous, 1.0 - self.fraction, self.num_requests):
            self.cache.decr(current_key)  # a refused request is not counted
            return False, current - 1, previous
        return True, current, previous

    def wait(self) -> float | None:
        """Seconds until a request would pass, if no other passes meanwhile (Retry-After)."""
        room = self.num_requests - 1  # the weighted count a request may find and still pass
        if room < 0:
            return float(self.duration)  # a rate of 0 never passes; ask again after a window
        if self.current <= room:
            # This window has room: wait until the previous window weighs little enough.
            if self.previous == 0:
                return 0.0  # refused only because a racing request held the place a moment
            passes_at = 1.0 - (room - self.current) / self.previous
            return max(0.0, passes_at - self.fraction) * self.duration
        # This window is full: wait for the next, until this one weighs little enough there.
        return (1.0 - self.fraction + 1.0 - room / self.current) * self.duration
