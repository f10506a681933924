"""The standard order workload as our commands, and timing helpers for the phases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any
from uuid import uuid4

from bench.spec import OrderSpec, latency_figures, order_specs
from orders.commands import ConfirmOrder, CreateOrder, LineItem, PayOrder, ShipOrder
from writeside.commands import Command


def order_commands(spec: OrderSpec) -> list[Command]:
    """The four commands of one order, each its own unit of work."""
    items = tuple(LineItem(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price) for line in spec.lines)
    return [
        CreateOrder(order_id=spec.order_id, customer_id=spec.customer_id, currency=spec.currency, items=items),
        ConfirmOrder(order_id=spec.order_id),
        PayOrder(order_id=spec.order_id, payment_id=spec.payment_id, amount=spec.total),
        ShipOrder(order_id=spec.order_id, tracking_number=spec.tracking_number, carrier=spec.carrier),
    ]


def workload(orders: int, seed: int, offset: int = 0, *, fresh_ids: bool = False) -> Iterator[Command]:
    """Every command of `orders` orders, order by order (4 per order). With `fresh_ids` the
    orders get new random ids, so a phase can run again on a database that has the seed's."""
    for spec in order_specs(orders, seed, offset):
        yield from order_commands(replace(spec, order_id=uuid4()) if fresh_ids else spec)


def timed(operations: Iterable[Callable[[], object]], unit: str) -> dict[str, Any]:
    """Run each operation, timing each one and the whole; figures as a dict."""
    latencies: list[float] = []
    start = time.perf_counter()
    for operation in operations:
        began = time.perf_counter()
        operation()
        latencies.append((time.perf_counter() - began) * 1000)
    return latency_figures(latencies, time.perf_counter() - start, unit)
