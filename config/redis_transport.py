"""Celery's Redis transport (kombu's), with one guard so that a worker outlives its broker.

The guarantee kept: losing the Redis broker (a restart, a network cut) is a connection error
to every process that uses it, which Celery recovers from by reconnecting, never an error that
stops the process.

Why a guard is needed (kombu 5.7): when a worker's broker connection drops, Celery first
`collect()`s the connection, which closes its channels and then detaches the transport
(`transport.client = None`), and then `close()`s it once more. A channel whose first close
failed part-way (a Redis call in it raised a connection error, which that pass ignores: with
the fanout subscriptions of gossip, mingle and event heartbeats, as the Procfile's worker has
them) is still open on the second pass; holding deliveries not yet acknowledged, it then
tries to hand them back to Redis, which needs a new connection pool, whose parameters come
from `self.connection.client`, now None: an AttributeError, which neither kombu's nor
Celery's clean-up ignores (they ignore connection errors only), so the worker logged
"Unrecoverable error" and exited. Here that case is what it is, a connection error: the clean-up ignores it
and the worker reconnects. The deliveries it could not hand back stay in Redis's unacked
set, where Redis's visibility timeout restores them; projections do not wait for them, beat's
catch-up rings every partition (config/settings.py).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    """kombu's channel; after its connection is closed, asking it for Redis is a connection error."""

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]  # not in kombu's stubs
        return params


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above (CELERY_BROKER_TRANSPORT)."""

    Channel = Channel
