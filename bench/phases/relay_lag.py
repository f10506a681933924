"""`relay_lag`: with a real Celery worker and beat running the outbound relay, commands at a
fixed rate, and the time from each event's `recorded_at` to its public message reaching a
subscriber bound to `backoffice.#`, as a partner's queue would be.

The run publishes to a throwaway exchange (`backoffice.events.lag-<random>`, deleted after)
so no real subscriber sees bench orders. Both clocks are this host's (PostgreSQL's
`recorded_at` and the subscriber's receive time), so the difference needs no clock sync.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test.utils import override_settings
from kombu import Connection, Exchange, Queue

from bench.phases.lag import _celery, _wait_for_worker, _windows, stop_celery
from bench.spec import latency_figures
from bench.workload import workload
from config.celery import app as celery_app
from projector.loop import all_partitions
from projector.running import run_partition
from writeside.bus import handle

QUIET_SECONDS = 3.0  # after the last command: no message for this long means the relay is done


class Subscriber(threading.Thread):
    """A queue bound to `backoffice.#` on the run's exchange; notes each id's first arrival."""

    def __init__(self, url: str, exchange: str) -> None:
        super().__init__(daemon=True)
        self.connection = Connection(url)
        self.queue = Queue(
            f"bench-relay-lag-{uuid.uuid4().hex[:8]}",
            Exchange(exchange, type="topic", durable=True),
            routing_key="backoffice.#",
            exclusive=True,
        )
        self.seen: dict[str, tuple[float, float]] = {}  # id → (recorded_at, lag in seconds)
        self.duplicates = 0
        self.last_arrival = time.time()
        self.ready, self.stop = threading.Event(), threading.Event()

    def _received(self, _body: Any, message: Any) -> None:
        arrived = time.time()
        body = json.loads(message.body)  # application/cloudevents+json: kombu leaves it raw
        recorded = datetime.fromisoformat(body["time"].replace("Z", "+00:00")).timestamp()
        if body["id"] in self.seen:
            self.duplicates += 1
        else:
            self.seen[body["id"]] = (recorded, arrived - recorded)
        self.last_arrival = arrived
        message.ack()

    def run(self) -> None:
        with self.connection as connection:
            channel = connection.channel()
            self.queue.exchange(channel).declare()
            with connection.Consumer(self.queue, callbacks=[self._received], accept=None):
                self.ready.set()
                while not self.stop.is_set():
                    try:
                        connection.drain_events(timeout=0.5)
                    except TimeoutError:
                        continue


def relay_lag(rate: float, seconds: float, seed: int, logs: Path, *, deadline_s: float = 60.0) -> dict[str, Any]:
    """Commands at `rate`/s for `seconds`; lag from `recorded_at` to a subscriber's receipt."""
    if not settings.CELERY_BROKER_URL or not settings.INTEGRATION_BROKER_URL:
        raise RuntimeError("the relay_lag phase needs CELERY_BROKER_URL and INTEGRATION_BROKER_URL")
    queue = f"bench-relay-lag-{uuid.uuid4().hex[:8]}"
    exchange = f"backoffice.events.lag-{uuid.uuid4().hex[:8]}"
    previous, celery_app.conf.task_default_queue = celery_app.conf.task_default_queue, queue
    logs.mkdir(parents=True, exist_ok=True)
    subscriber = Subscriber(settings.INTEGRATION_BROKER_URL, exchange)
    commands = list(workload(int(rate * seconds) // 4 + 1, seed, fresh_ids=True))[: int(rate * seconds)]
    with override_settings(INTEGRATION_EVENTS_EXCHANGE=exchange):
        # Start from caught-up projections and relay (the relay publishes any backlog to the
        # new exchange, which has no queue yet), so this measures the steady state.
        for partition in all_partitions():
            while run_partition(partition):
                pass
        env = {"INTEGRATION_EVENTS_EXCHANGE": exchange, "INTEGRATION_BROKER_URL": settings.INTEGRATION_BROKER_URL}
        processes = [
            _celery("worker", queue, logs / "relay-worker.log", **env),
            _celery("beat", queue, logs / "relay-beat.log", **env),
        ]
        try:
            subscriber.start()
            if not subscriber.ready.wait(30):
                raise RuntimeError("the relay_lag subscriber did not bind within 30s")
            _wait_for_worker(queue, processes[0], deadline_s=60.0)
            start = time.perf_counter()
            with override_settings(PROJECTIONS_INLINE=False):
                for index, command in enumerate(commands):
                    time.sleep(max(0.0, start + index / rate - time.perf_counter()))
                    handle(command)
            sent_s = time.perf_counter() - start
            deadline = time.monotonic() + deadline_s
            while time.time() - subscriber.last_arrival < QUIET_SECONDS and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            subscriber.stop.set()
            subscriber.join(10)
            stop_celery(processes, queue, previous)
            with Connection(settings.INTEGRATION_BROKER_URL) as connection:
                channel: Any = connection.channel()  # kombu's stub types it as the bare protocol
                channel.exchange_delete(exchange)
    seen = list(subscriber.seen.values())
    overall = latency_figures([lag_s * 1000 for _, lag_s in seen], sent_s, "published")
    first = min((recorded for recorded, _ in seen), default=0.0)
    return {
        "rate_per_s": rate,
        "achieved_rate_per_s": round(len(commands) / sent_s, 1),
        "commands": len(commands),
        "public_events_received": len(seen),
        "duplicates": subscriber.duplicates,
        "p50_s": round(overall["p50_ms"] / 1000, 4),
        "p99_s": round(overall["p99_ms"] / 1000, 4),
        "max_s": round(overall["max_ms"] / 1000, 4),
        "windows_ms": _windows(seen, first),
    }
