"""Django's Redis cache, reusing one client per connection pool.

Django's RedisCacheClient builds a new `redis.Redis` for every call, which costs about as
much as the command it sends (~0.2 ms: the client sets up its response callbacks each
time). The doorbell asks the cache once per committed command, so that doubled its cost.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    """A RedisCacheClient that builds its writing and its reading client once each.

    With replicas configured, a process keeps reading from the one replica it picked first;
    the processes together still spread over them. Redis clients are thread-safe.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        """The writing (or reading) client, built on first use."""
        client = self._clients.get(write)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(write) or super().get_client(key, write=write)
                self._clients[write] = client
        return client


class RedisCache(DjangoRedisCache):
    """django.core.cache.backends.redis.RedisCache with ReusingRedisCacheClient."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
