"""`load`: an aggregate with 10,000 events loads in about the time of one with 10 (snapshots)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.test.utils import override_settings

from bench.spec import order_specs
from bench.workload import order_commands, timed
from eventlog.store import event_store
from orders.commands import AddOrderItem, RemoveOrderItem
from orders.domain import LIFECYCLE_EVENTS, Order
from orders.repository import EventSourcedOrders
from writeside.bus import handle
from writeside.unit_of_work import DjangoUnitOfWork

ONE = Decimal("1.00")


def _grow(order_id: Any, events: int) -> None:
    """Append pairs of item added/removed through the unit of work, 500 events a transaction
    (snapshots are taken by the repository as the stream crosses each SNAPSHOT_EVERY)."""
    written = 0
    while written < events:
        with DjangoUnitOfWork() as uow:
            order = uow.repository(Order).get(order_id)
            for _ in range(min(500, events - written) // 2):
                order.add_item("GROW", 1, ONE)
                order.remove_item("GROW")
                written += 2
            uow.commit()


def _stream(order_id: Any, events: int) -> None:
    """A stream of exactly `events` events: created, then item added/removed pairs, then added."""
    if events > 1 + 2 * 4 + 1:
        _grow(order_id, events - 2)
    else:
        for n in range((events - 2) // 2):
            handle(AddOrderItem(order_id=order_id, sku=f"X{n}", quantity=1, unit_price=ONE))
            handle(RemoveOrderItem(order_id=order_id, sku=f"X{n}"))
    handle(AddOrderItem(order_id=order_id, sku="LAST", quantity=1, unit_price=ONE))


def load(seed: int, *, small: int = 10, large: int = 10_000, repeats: int = 300) -> dict[str, Any]:
    """Time `repository.get` of a `small`- and a `large`-event stream; both times and the ratio."""
    # Fresh ids: the workload's ids depend only on the seed, and the write phases used it.
    specs = [replace(spec, order_id=uuid4()) for spec in order_specs(2, seed)]
    store = event_store()
    result: dict[str, Any] = {"snapshot_every": settings.SNAPSHOT_EVERY}
    # A stream this long is past what an order may hold (MAX_EVENTS_PER_ORDER): this phase
    # measures loading one, so it raises the limit while it grows them.
    with override_settings(EVENT_SUBSCRIBERS=[], MAX_EVENTS_PER_ORDER=max(small, large) + LIFECYCLE_EVENTS):
        for name, spec, size in (("small", specs[0], small), ("large", specs[1], large)):
            handle(order_commands(spec)[0])
            _stream(spec.order_id, size)
            result[f"{name}_events"] = store.stream_version(str(spec.order_id))
    for name, spec in (("small", specs[0]), ("large", specs[1])):
        orders = EventSourcedOrders(store, settings.SNAPSHOT_EVERY)
        for _ in range(20):
            orders.get(spec.order_id)
        result[name] = timed((partial(orders.get, spec.order_id) for _ in range(repeats)), "loads")
    result["ratio_p50"] = round(result["large"]["p50_ms"] / result["small"]["p50_ms"], 2)
    return result
