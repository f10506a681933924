"""The Redis cache backend (config/cache.py) on real Redis: Django's cache semantics, one
client per process instead of one per call, and bounded waits on a Redis that does not answer."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import pytest
from django.core.cache import caches
from redis.exceptions import TimeoutError as RedisTimeoutError


@pytest.fixture
def redis_cache(settings: Any) -> Any:
    location = settings.CACHE_URL or "redis://127.0.0.1:6379/0"
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": location}}
    return caches["default"]


def test_add_is_set_if_absent_and_delete_clears_it(redis_cache: Any) -> None:
    key = f"cache-test:{uuid.uuid4()}"
    assert redis_cache.add(key, 1, timeout=30) is True
    assert redis_cache.add(key, 2, timeout=30) is False
    assert redis_cache.get(key) == 1
    assert redis_cache.delete(key) is True
    assert redis_cache.add(key, 3, timeout=30) is True
    redis_cache.delete(key)


def test_the_redis_client_is_built_once_per_role(redis_cache: Any) -> None:
    writer = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client(write=True) is writer
    assert redis_cache._cache.get_client(write=False) is redis_cache._cache.get_client(write=False)


def test_a_redis_that_never_answers_costs_at_most_the_configured_timeouts(settings: Any) -> None:
    # redis-py's own defaults wait 5 s to connect and 5 s per read; REDIS_CACHE_OPTIONS bound both.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts connections; nothing ever answers
        location = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        options = settings.REDIS_CACHE_OPTIONS
        settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": location, "OPTIONS": options}}
        began = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            caches["default"].get("anything")
    bound = options["socket_connect_timeout"] + options["socket_timeout"]
    assert time.monotonic() - began < bound + 1.0
