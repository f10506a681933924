"""`relay_translate`: the relay's work for one new stock event costs the same for a product
with 100,000 events of history as for a short one, because it folds on from the stream's
carried fold (integration/carried_state.py) instead of from its first event.

Three products: `small` (10 events), `edge` (CARRIED_FROM_VERSION events: the longest stream
still folded from its first event, the most any event costs below the carried ones) and
`large` (100,000); and two ways of translating each one's last event: `now`, what the relay
does (RelayProjection.apply's steps: look up the carried fold if the stream is long enough,
fold, store the fold if it is, in one transaction), and `from_first_event`, `translate`
without a fold: what every batch cost before, and what a long stream's first batch costs
after a replay from an older position. Publishing is left out: it costs the same per message
whatever the history (the relay's publish rate is its own figure in docs/performance.md).

Each round translates the same last event again, so the streams keep their lengths: `now`
rolls its transaction back, keeping the fold the relay held before that event (the commit is
left out: the relay commits its checkpoint in that transaction either way).
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
from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore, event_store
from integration.carried_state import CARRIED_FROM_VERSION, carry
from integration.mapping import known_digest, translate, translate_from
from integration.relay import public_events
from inventory.events import product_stream
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

    def now() -> Any:
        # As in RelayProjection.apply, in the transaction that moves the checkpoint: rolled back
        # here, so the commit (which the relay pays for its checkpoint anyway) is not timed and
        # the stored fold stays the one before the event.
        with transaction.atomic(using=using):
            public = public_events(batch, using)
            transaction.set_rollback(True, using=using)
        return public

    return {"now": now, "from_first_event": lambda: translate(batch, store)}


def relay_translate(large: int = 100_000, rounds: int = 200, slow_rounds: int = 5, seed: int = 1) -> dict[str, Any]:
    """p50 of each (product, way) and the ratios of each way's p50s to `small`'s."""
    store, using, run = event_store(), read_database(), uuid4().hex[:8]
    result: dict[str, Any] = {"carried_from_version": CARRIED_FROM_VERSION}
    ways: dict[str, dict[str, Callable[[], Any]]] = {}
    with override_settings(EVENT_SUBSCRIBERS=[]):
        for name, events in (("small", 10), ("edge", CARRIED_FROM_VERSION), ("large", large)):
            sku = f"BENCH-relay-{name}-{run}"
            result[name] = build_product(store, sku, events, OPEN_ORDERS + 1)
            ways[name] = _ways(store, sku, using)
    # Interleaved, one event of each product per round in a shuffled order: a busy neighbour
    # slows them alike.
    latencies: dict[str, list[float]] = {name: [] for name in ways}
    shuffler = random.Random(seed)
    began = time.perf_counter()
    for _ in range(rounds):
        for name in shuffler.sample(list(ways), len(ways)):
            latencies[name].append(_once(ways[name]["now"]))
    seconds = (time.perf_counter() - began) / len(ways)
    for name in ways:
        result[name]["now"] = latency_figures(latencies[name], seconds, "events")
        count = slow_rounds if name == "large" else rounds
        began = time.perf_counter()
        slow = [_once(ways[name]["from_first_event"]) for _ in range(count)]
        result[name]["from_first_event"] = latency_figures(slow, time.perf_counter() - began, "events")
    for way in ("now", "from_first_event"):
        for name in ("edge", "large"):
            over, under = result[name][way]["p50_ms"], result["small"][way]["p50_ms"]
            result[f"{way}_{name}_ratio_p50"] = round(float(over) / float(under), 2)
    return result
