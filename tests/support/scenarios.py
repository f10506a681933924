"""Scenarios on the real services: products stocked and orders placed through the bus, what their
streams and stock rows hold once the worker has converged, and a projection made to fail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore
from orders.commands import ConfirmOrder, CreateOrder, LineItem
from readmodels.models import ProductStock
from readmodels.projections.orders import OrdersProjection
from tests.factories import ReceiveStockFactory, RegisterProductFactory
from writeside.bus import handle
from writeside.commands import CommandMetadata


class FlakyOrders(OrdersProjection):
    """The orders projection with a bug that fires on chosen streams until it is fixed."""

    def __init__(self, poisoned: set[str]) -> None:
        super().__init__()
        self.poisoned = poisoned

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        if any(event.stream_id in self.poisoned for event in events):
            raise RuntimeError("projection bug")
        super().apply(events, using)


def create(customer: str = "c-1") -> UUID:
    command = CreateOrder(
        customer_id=customer, currency="EUR", items=(LineItem(sku="A", quantity=1, unit_price=Decimal("5.00")),)
    )
    handle(command)
    return command.order_id


def stock(sku: str, on_hand: int) -> None:
    handle(RegisterProductFactory(sku=sku))
    if on_hand:
        handle(ReceiveStockFactory(sku=sku, quantity=on_hand))


def order(*lines: tuple[str, int], correlation: UUID | None = None) -> tuple[UUID, Decimal]:
    """Create and confirm an order; returns its id and total."""
    create = CreateOrder(
        customer_id="c-1",
        currency="EUR",
        items=tuple(LineItem(sku=sku, quantity=quantity, unit_price=Decimal("5.00")) for sku, quantity in lines),
    )
    handle(create)
    metadata = CommandMetadata(correlation_id=correlation) if correlation else CommandMetadata()
    handle(ConfirmOrder(order_id=create.order_id, metadata=metadata))
    return create.order_id, sum((Decimal("5.00") * quantity for _, quantity in lines), Decimal("0"))


def events(stream_id: str) -> list[RecordedEvent]:
    return EventStore().read_stream(stream_id)


def types(stream_id: Any) -> list[str]:
    return [event.event_type for event in events(str(stream_id))]


def has(stream_id: Any, event_type: str) -> Callable[[], bool]:
    return lambda: event_type in types(stream_id)


def row(sku: str) -> tuple[int, int, int]:
    product = ProductStock.objects.get(sku=sku)
    return product.on_hand, product.reserved, product.available
