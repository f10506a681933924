"""`product_load`: a product with 100,000 events of history loads in about the time of one
with 10. Its state holds only open reservations (shipped ones are consumed, cancelled ones
released), so its snapshot stays as small as its open orders and a load reads that snapshot
plus at most SNAPSHOT_EVERY - 1 events, whatever the shop's history.

Four products: `small` (10 events, no snapshot); `large` (100,000 events, ending at a
snapshot, as the `load` phase's order does); `large_worst` (the longest tail a load ever
replays after the last snapshot: SNAPSHOT_EVERY - 1 events); and `same_tail` (two snapshot
intervals, the same tail): `large_worst` against `same_tail` is what history itself costs.
"""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.test.utils import override_settings

from bench.spec import latency_figures
from eventlog.store import EventStore, event_store
from inventory.commands import AdjustStock, ConsumeStock, RegisterProduct, ReserveStock
from inventory.domain import Product
from inventory.events import MAX_RECEIPT, product_stream
from inventory.repository import EventSourcedProducts
from writeside.bus import handle
from writeside.unit_of_work import DjangoUnitOfWork

# Orders still waiting to ship when the figures are taken: what the state must keep.
OPEN_ORDERS = 5


def _bulk(sku: str, to_version: int) -> None:
    """Receive once, then reserve-and-ship pairs through the unit of work, up to 500 events a
    transaction (the repository snapshots the commit that crosses each SNAPSHOT_EVERY), to
    exactly `to_version`."""
    with DjangoUnitOfWork() as uow:
        uow.repository(Product).get(sku).receive(MAX_RECEIPT)
        uow.commit()
    version = 2
    while version < to_version:
        with DjangoUnitOfWork() as uow:
            product = uow.repository(Product).get(sku)
            batch = min(500, to_version - version)
            for _ in range(batch // 2):
                order = uuid4()
                product.reserve(order, 1)
                product.consume(order)
            if batch % 2:
                product.adjust(1, "count")
            version += batch
            uow.commit()


def _tail(sku: str, events: int) -> None:
    """`events` more, one command each: orders shipped, then OPEN_ORDERS left open."""
    shipped = events - OPEN_ORDERS
    if shipped % 2:
        handle(AdjustStock(sku=sku, quantity_delta=1, reason="count"))
    for _ in range(shipped // 2):
        order = uuid4()
        handle(ReserveStock(sku=sku, order_id=order, quantity=1))
        handle(ConsumeStock(sku=sku, order_id=order))
    for _ in range(OPEN_ORDERS):
        handle(ReserveStock(sku=sku, order_id=uuid4(), quantity=1))


def build_product(store: EventStore, sku: str, events: int, tail: int) -> dict[str, Any]:
    """A product of exactly `events` events whose last `tail` are single commands; its shape."""
    handle(RegisterProduct(sku=sku, name=f"Bench {sku}", price=Decimal("1.00")))
    _bulk(sku, events - tail)
    _tail(sku, tail)
    snapshot = store.latest_snapshot(product_stream(sku))
    version = store.stream_version(product_stream(sku))
    return {
        "events": version,
        "replayed": version - (snapshot.version if snapshot else 0),
        "snapshot_bytes": len(json.dumps(snapshot.state)) if snapshot else 0,
    }


def product_load(large: int = 100_000, repeats: int = 1000, seed: int = 1) -> dict[str, Any]:
    """Time `repository.get` of each product; their shapes, times and the p50 ratios."""
    every = settings.SNAPSHOT_EVERY
    assert every > OPEN_ORDERS + 1, "SNAPSHOT_EVERY too small for this phase"
    store = event_store()
    run = uuid4().hex[:8]
    rounded = -(-large // every) * every
    shapes = {  # name: (events, of which single commands at the end)
        "small": (10, 8),
        "large": (large, OPEN_ORDERS),
        "large_worst": (rounded + every - 1, every - 1),
        "same_tail": (2 * every - 1, every - 1),
    }
    result: dict[str, Any] = {"snapshot_every": every}
    with override_settings(EVENT_SUBSCRIBERS=[]):
        for name, (events, tail) in shapes.items():
            result[name] = build_product(store, f"BENCH-{name}-{run}", events, tail)
    products = EventSourcedProducts(store, every)
    skus = {name: f"BENCH-{name}-{run}" for name in shapes}
    for _ in range(20):
        for sku in skus.values():
            products.get(sku)
    # Interleaved, one load of each product per round in a shuffled order: a busy neighbour
    # slows all four alike, and none always runs first (or right after the largest).
    latencies: dict[str, list[float]] = {name: [] for name in shapes}
    shuffler = random.Random(seed)
    began = time.perf_counter()
    for _ in range(repeats):
        for name in shuffler.sample(list(skus), len(skus)):
            started = time.perf_counter()
            products.get(skus[name])
            latencies[name].append((time.perf_counter() - started) * 1000)
    seconds = (time.perf_counter() - began) / len(shapes)
    for name, sku in skus.items():
        result[name].update(latency_figures(latencies[name], seconds, "loads"))
        result[name]["open_reservations"] = len(products.get(sku).state.reservations)

    def ratio(over: str, under: str) -> float:
        return round(float(result[over]["p50_ms"]) / float(result[under]["p50_ms"]), 2)

    result["ratio_p50"] = ratio("large", "small")
    result["worst_ratio_p50"] = ratio("large_worst", "small")
    result["history_ratio_p50"] = ratio("large_worst", "same_tail")
    return result
