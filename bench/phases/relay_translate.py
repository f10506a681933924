"""`relay_translate`: the relay's work for one new stock event costs the same for a product
with 100,000 events of history as for one with 10, because it folds on from the stream's
carried fold (integration/carried_state.py) instead of from its first event.

Each round translates the product's last event again, so the streams keep their lengths:
`carried` rolls its transaction back, keeping the fold the relay held before that event (the
commit is left out: the relay commits its checkpoint in that transaction either way).

Two products (`small`, 10 events; `large`, 100,000) and two ways of translating each new
event: `carried`, what the relay does (read its stored fold, fold the new event, store the
fold, in one transaction as in RelayProjection.apply), and `from_first_event`, `translate`
without a fold: what every batch cost before, and what the first batch of a stream costs after
a replay from an older position. Publishing is left out: it costs the same per message
whatever the history (the relay's publish rate is its own figure in docs/performance.md).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from django.db import transaction
from django.test.utils import override_settings

from bench.phases.product_load import OPEN_ORDERS, build_product
from bench.spec import latency_figures
from eventlog.store import EventStore, RecordedEvent, event_store
from integration.carried_state import carried_folds, carry
from integration.mapping import known_digest, translate, translate_from
from inventory.domain import product_stream
from projector.loop import read_database


def _last_event(store: EventStore, sku: str) -> list[RecordedEvent]:
    """The product's last event, as the relay's batch would hold it."""
    stream = product_stream(sku)
    return store.read_stream(stream, after_version=store.stream_version(stream) - 1)


def _once(work: Callable[[], Any]) -> float:
    """Milliseconds of one translation (which must give the event's one public form)."""
    started = time.perf_counter()
    public = work()
    elapsed = (time.perf_counter() - started) * 1000
    assert len(public) == 1, "one stock_changed per event"
    return elapsed


def _ways(store: EventStore, sku: str, using: str) -> dict[str, Callable[[], Any]]:
    """The relay's work for the product's last event, both ways, from the fold the relay left
    after the event before it: every round translates the same event of a stream of the same
    length."""
    batch = _last_event(store, sku)
    stream = batch[0].stream_id
    _, before = translate_from(store.read_stream(stream, to_version=batch[0].version - 1), store, {})

    carry(before, using, known_digest())

    def carried() -> Any:
        # As in RelayProjection.apply, in the transaction that moves the checkpoint: rolled back
        # here, so the commit (which the relay pays for its checkpoint anyway) is not timed and
        # the stored fold stays the one before the event.
        with transaction.atomic(using=using):
            known = known_digest()
            public, folds = translate_from(batch, store, carried_folds({stream: batch[0].version}, using, known))
            carry(folds, using, known)
            transaction.set_rollback(True, using=using)
        return public

    return {"carried": carried, "from_first_event": lambda: translate(batch, store)}


def relay_translate(large: int = 100_000, rounds: int = 200, slow_rounds: int = 5, seed: int = 1) -> dict[str, Any]:
    """p50 of each (product, way) and the large/small ratio of each way."""
    store, using, run = event_store(), read_database(), uuid4().hex[:8]
    result: dict[str, Any] = {}
    ways: dict[str, dict[str, Callable[[], Any]]] = {}
    with override_settings(EVENT_SUBSCRIBERS=[]):
        for name, events in (("small", 10), ("large", large)):
            sku = f"BENCH-relay-{name}-{run}"
            result[name] = build_product(store, sku, events, OPEN_ORDERS + 1)
            ways[name] = _ways(store, sku, using)
    # Interleaved, one event of each product per round in a shuffled order: a busy neighbour
    # slows both alike.
    latencies: dict[str, list[float]] = {name: [] for name in ways}
    shuffler = random.Random(seed)
    began = time.perf_counter()
    for _ in range(rounds):
        for name in shuffler.sample(list(ways), len(ways)):
            latencies[name].append(_once(ways[name]["carried"]))
    seconds = (time.perf_counter() - began) / len(ways)
    for name in ways:
        result[name]["carried"] = latency_figures(latencies[name], seconds, "events")
        count = slow_rounds if name == "large" else rounds
        began = time.perf_counter()
        slow = [_once(ways[name]["from_first_event"]) for _ in range(count)]
        result[name]["from_first_event"] = latency_figures(slow, time.perf_counter() - began, "events")
    for way in ("carried", "from_first_event"):
        small, big = result["small"][way]["p50_ms"], result["large"][way]["p50_ms"]
        result[f"{way}_ratio_p50"] = round(float(big) / float(small), 2)
    return result
