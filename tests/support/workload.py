"""A mixed order workload driven through the bus, for read-side tests."""

from __future__ import annotations

import random
from decimal import Decimal
from uuid import UUID

from orders.commands import (
    AddOrderItem,
    CancelOrder,
    ConfirmOrder,
    CreateOrder,
    DeliverOrder,
    LineItem,
    PayOrder,
    RemoveOrderItem,
    ShipOrder,
)
from orders.domain import Order
from tests.factories import ConfirmOrderFactory, DeliverOrderFactory, PayOrderFactory, ShipOrderFactory, total_of
from writeside.bus import handle
from writeside.unit_of_work import DjangoUnitOfWork


def price(rng: random.Random) -> Decimal:
    """A unit price with exactly two decimals."""
    return Decimal(rng.randint(100, 9999)) / 100


def place_order(rng: random.Random, customers: int = 7) -> tuple[UUID, Decimal]:
    """Create one order; returns its id and total."""
    items = tuple(
        LineItem(sku=f"SKU-{n}", quantity=rng.randint(1, 4), unit_price=price(rng)) for n in range(rng.randint(1, 3))
    )
    command = CreateOrder(
        customer_id=f"c-{rng.randrange(customers)}", currency=rng.choice(["EUR", "EUR", "USD"]), items=items
    )
    handle(command)
    return command.order_id, sum((item.quantity * item.unit_price for item in items), Decimal("0"))


def advance(order_id: UUID, total: Decimal, rng: random.Random) -> None:
    """Take an order somewhere along its lifecycle, sometimes cancelling it."""
    if rng.random() < 0.3:
        extra = price(rng)
        handle(AddOrderItem(order_id=order_id, sku="SKU-extra", quantity=2, unit_price=extra))
        total += 2 * extra
        if rng.random() < 0.5:
            handle(RemoveOrderItem(order_id=order_id, sku="SKU-extra"))
            total -= 2 * extra
    steps = rng.randint(0, 4)
    if steps >= 1:
        handle(ConfirmOrder(order_id=order_id))
    if steps >= 2:
        handle(PayOrder(order_id=order_id, payment_id=f"pay-{order_id.hex[:8]}", amount=total))
    if steps >= 3 and rng.random() < 0.3:
        handle(CancelOrder(order_id=order_id, reason="customer asked"))
        return
    if steps >= 3:
        handle(ShipOrder(order_id=order_id, tracking_number=f"TRK-{order_id.hex[:6]}", carrier="DHL"))
    if steps >= 4:
        handle(DeliverOrder(order_id=order_id))
    if steps == 0 and rng.random() < 0.3:
        handle(CancelOrder(order_id=order_id, reason="changed mind"))


def drive_orders(count: int, seed: int = 1) -> list[UUID]:
    """Place `count` orders and move each through a random part of its lifecycle."""
    rng = random.Random(seed)
    ids = []
    for _ in range(count):
        order_id, total = place_order(rng)
        advance(order_id, total, rng)
        ids.append(order_id)
    return ids


def churn(order_id: UUID, pairs: int) -> None:
    """Add and remove one item `pairs` times, in one unit of work: a long stream, fast."""
    with DjangoUnitOfWork() as uow:
        order = uow.repository(Order).get(order_id)
        for _ in range(pairs):
            order.add_item("CHURN", 1, Decimal("1.00"))
            order.remove_item("CHURN")
        uow.commit()


def delivered(create: CreateOrder) -> UUID:
    """Place the order and take it through confirmed, paid and shipped to delivered (closed and
    owing nothing: what the archiver archives); returns its id."""
    handle(create)
    handle(ConfirmOrderFactory(order_id=create.order_id))
    handle(PayOrderFactory(order_id=create.order_id, amount=total_of(create)))
    handle(ShipOrderFactory(order_id=create.order_id))
    handle(DeliverOrderFactory(order_id=create.order_id))
    return create.order_id
