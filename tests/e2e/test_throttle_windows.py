"""The API throttles' sliding-window counter (web/sliding_window.py), on the real
Redis cache and on local memory (the embedded default's cache), with a clock the test moves:
exactly the rate passes, the previous window's weight lets requests in again as time moves,
refused requests are not counted, Retry-After is when a request passes again, racing requests
never take more places than there are, and a check is one Redis round trip over two counters."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from redis.connection import AbstractConnection
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from tests.support.http import problem
from web import sliding_window, throttles
from web.sliding_window import SlidingWindowThrottle, redis_client
from web.throttles import CacheOutage, ScopedThrottle

# A minute's window starts here (a multiple of 60 s): fractions of it are exact in binary.
START = 29_000_000 * 60.0
MINUTE = 60.0


class Clock:
    """A time.time the test moves (DRF's throttles read `timer`). Not a function, so it stays
    unbound as a class attribute."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "local memory"])
def counters(request: pytest.FixtureRequest, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The throttles' cache: the real Redis backend or local memory, under a key prefix of
    this test's own (deleted after); a fresh outage record, so no earlier cooldown skips it."""
    prefix = f"throttle-test-{uuid.uuid4().hex}"
    if request.param == "redis":
        location = settings.CACHE_URL or "redis://127.0.0.1:6379/0"
        backend = {"BACKEND": "config.cache.RedisCache", "LOCATION": location, "OPTIONS": settings.REDIS_CACHE_OPTIONS}
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    settings.CACHES = {"default": {**backend, "KEY_PREFIX": prefix}}
    monkeypatch.setattr(throttles, "cache_outage", CacheOutage())
    yield request.param
    client = redis_client(caches["default"])
    if client is not None:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def rate(monkeypatch: pytest.MonkeyPatch, queries: str) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"queries": queries, "commands": "99/min"})


class Caller:
    """One user's GET requests through the API's ScopedThrottle, at the clock's time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.request = Request(APIRequestFactory().get("/api/orders/"))
        self.request.user = User(pk=uuid.uuid4().int % 10**9)  # never saved: the throttle reads its pk
        self.view = APIView()
        self.view.throttle_scope = "queries"  # type: ignore[attr-defined]
        self.waits: list[float | None] = []

    def knock(self) -> bool:
        """One request, as DRF checks it (a new throttle per request); a refusal's wait is kept."""
        throttle = ScopedThrottle()
        throttle.timer = self.clock
        allowed = throttle.allow_request(self.request, self.view)
        if not allowed:
            self.waits.append(throttle.wait())
        return allowed

    def passing(self, tries: int) -> int:
        """How many of `tries` requests now pass."""
        return sum(self.knock() for _ in range(tries))


def test_exactly_the_rate_passes_in_a_window_and_the_next_is_refused(
    counters: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rate(monkeypatch, "5/min")
    ann = Caller(Clock(START + 1))
    assert [ann.knock() for _ in range(7)] == [True] * 5 + [False] * 2
    ann.clock.now = START + 59.9
    assert not ann.knock()
    assert Caller(ann.clock).passing(6) == 5  # another user has a budget of their own


def test_the_previous_windows_weight_lets_requests_through_again_as_time_moves(
    counters: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rate(monkeypatch, "8/min")
    ann = Caller(Clock(START))
    assert ann.passing(9) == 8
    # Next window: its start weighs the 8 fully; a quarter in, 8 * 0.75 = 6 leave room for 2.
    ann.clock.now = START + MINUTE
    assert ann.passing(4) == 0
    ann.clock.now = START + MINUTE * 1.25
    assert ann.passing(4) == 2
    # Half way: 8 * 0.5 + the 2 = 6, room for 2 more.
    ann.clock.now = START + MINUTE * 1.5
    assert ann.passing(4) == 2
    # The window after: the 4 of the last one weigh fully at its start, room for 4.
    ann.clock.now = START + MINUTE * 2
    assert ann.passing(8) == 4
    # Two windows later nothing weighs any more: the whole rate passes again.
    ann.clock.now = START + MINUTE * 4
    assert ann.passing(9) == 8


def test_refused_requests_are_not_counted(counters: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rate(monkeypatch, "4/min")
    ann = Caller(Clock(START))
    assert ann.passing(4) == 4
    ann.clock.now = START + 30
    assert ann.passing(50) == 0
    # Half way into the next window the 4 passed weigh 2: room for 2, as if the 50 never came.
    ann.clock.now = START + MINUTE * 1.5
    assert ann.passing(4) == 2
    assert all(wait is not None and 0 < wait <= 2 * MINUTE for wait in ann.waits)


@pytest.mark.parametrize("first", [START, START + 10, START + 45])
def test_retry_after_is_when_a_request_passes_again(
    counters: str, monkeypatch: pytest.MonkeyPatch, first: float
) -> None:
    rate(monkeypatch, "8/min")
    ann = Caller(Clock(first))
    for _ in range(6):  # a full window, then the room its weight leaves, again and again
        while ann.knock():
            pass
        wait = ann.waits[-1]
        assert wait is not None
        assert 0 < wait <= 2 * MINUTE
        refused_at = ann.clock.now
        ann.clock.now = refused_at + wait * 0.99
        assert not ann.knock()
        ann.clock.now = refused_at + wait + 0.001
        assert ann.knock()


def test_requests_racing_for_the_last_places_never_take_more_than_the_rate(
    counters: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rate(monkeypatch, "50/min")
    threads = 8
    ann = Caller(Clock(START + 30))
    start = threading.Barrier(threads)

    def knock_25() -> int:
        start.wait()
        return ann.passing(25)

    with ThreadPoolExecutor(threads) as pool:
        passed = sum(pool.map(lambda _: knock_25(), range(threads)))
    assert passed == 50


REDIS_ONLY = pytest.mark.parametrize("counters", ["redis"], indirect=True)


@REDIS_ONLY
def test_a_check_is_one_redis_round_trip_over_two_counters(counters: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rate(monkeypatch, "1000000/min")
    ann = Caller(Clock(START + 30))
    ann.knock()  # connects
    sends = count_sends(monkeypatch)
    assert ann.passing(500) == 500
    ann.clock.now = START + MINUTE + 1
    assert ann.passing(500) == 500
    assert sends() == 1000  # one packed send per check, whatever the window holds
    client = redis_client(caches["default"])
    assert client is not None
    prefix = caches["default"].key_prefix
    stored = {key: client.get(key) for key in client.scan_iter(match=f"{prefix}:*")}
    assert sorted(stored.values()) == [b"500", b"501"]  # two counters, never a list of requests
    assert all(0 < client.ttl(key) <= 2 * MINUTE for key in stored)


@REDIS_ONLY
def test_a_redis_that_lost_the_script_gets_it_again(counters: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A digest Redis never saw, as after a restart (flushing the shared server's scripts would
    # disturb everyone else using it).
    monkeypatch.setattr(sliding_window, "COUNT_IN_WINDOW_SHA", "0" * 40)
    rate(monkeypatch, "3/min")
    assert Caller(Clock(START)).passing(5) == 3


def count_sends(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count what redis-py sends from now on: one packed send per round trip."""
    sent = [0]
    original: Any = AbstractConnection.send_packed_command

    def counted(connection: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(connection, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return lambda: sent[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("counters", ["redis", pytest.param("local memory", marks=pytest.mark.embedded)], indirect=True)
def test_the_api_answers_429_with_retry_after_and_lets_the_caller_in_after_it(
    counters: str, admin_client_api: APIClient, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    if counters == "local memory":
        assert not settings.CACHE_URL  # the embedded default, as `make run`: no Redis at all
    rate(monkeypatch, "4/min")
    clock = Clock(START + 15)
    monkeypatch.setattr(SlidingWindowThrottle, "timer", clock)
    assert [admin_client_api.get("/api/orders/").status_code for _ in range(4)] == [200] * 4
    refused = admin_client_api.get("/api/orders/")
    problem(refused, 429)
    # A quarter into the next window the 4 weigh 3: one passes again.
    retry_after = int(refused["Retry-After"])
    assert retry_after == 60
    clock.now += retry_after - 1
    problem(admin_client_api.get("/api/orders/"), 429)
    clock.now += 1
    assert admin_client_api.get("/api/orders/").status_code == 200
