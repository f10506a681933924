"""The books balance: a month of a small shop, driven through the real bus, event store,
fulfilment process manager and projections on PostgreSQL (projected in-process as each
command commits), under a controlled clock (demo/clock.py, as the demo seeder's) that puts each
day's events on their own day. Each day brings receipts, orders (some out of stock),
payments (some captured after the order was cancelled), shipments, deliveries, returns (some
restocked), refunds paid (some in part), cancellations, stock adjustments and forgotten
customers, drawn from a seeded random; the simulation keeps its own tally of what it did.

Every ten days and at the month's end, from the read models alone: for every SKU, on_hand =
received + restocked + adjusted - shipped and reserved = what the confirmed, unshipped orders
hold; for every day, the revenue, what cancellations owed back and the refunds paid are what
the day's payments, cancellations and refunds say; every order is where the simulation left
it, and every refund due is either paid (`refunded`) or listed as owed (`?refund_due=true`'s
list). At the end `manage.py verify`'s checks (the same invariants from the log, plus the
read models against a fresh replay) find nothing.

Profiles: "ci" (the default: one month, part of `make test`) and "long" (BOOKS_MONTHS
months of different seeds, 20 unless told); HYPOTHESIS_PROFILE picks one, as for
tests/integration/test_model.py.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from demo.clock import database_clock
from inventory.commands import AdjustStock, ReceiveStock, RegisterProduct
from orders.commands import (
    CancelOrder,
    ConfirmOrder,
    CreateOrder,
    DeliverOrder,
    ForgetCustomer,
    LineItem,
    PayOrder,
    RefundOrder,
    ReturnOrder,
    ShipOrder,
)
from orders.events import ReturnedLine
from projector.loop import read_database
from projector.verification import verify
from readmodels.models import DailySales, OrderDetail, OrderSummary, ProductStock
from readmodels.selectors.orders import order_summary_list
from tests.factories import AddressFactory
from tests.support.books_shop import Books, ShopOrder
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
MONTHS = int(os.environ.get("BOOKS_MONTHS", "20")) if PROFILE == "long" else 1
DAYS = 30
PRICES = {"MUG": Decimal("12.50"), "TEE": Decimal("19.99"), "CAP": Decimal("15.00"), "BAG": Decimal("42.00")}
# A line of a SKU that is not a product: sold, but no stock is tracked for it.
GIFT_CARD = LineItem(sku="GIFT-CARD", quantity=1, unit_price=Decimal("25.00"))
CUSTOMERS = tuple(f"c-shop-{n}" for n in range(6))
COLUMNS = ("orders_paid", "revenue", "refunded", "refunds_paid")
CENT = Decimal("0.01")
STEPS = (
    "received",
    "counted more",
    "written off",
    "out of stock",
    "paid",
    "shipped",
    "delivered",
    "returned",
    "restocked",
    "cancelled after payment",
    "paid after cancellation",
    "refunded in full",
    "refunded in part",
    "forgotten",
)


@pytest.fixture(autouse=True)
def inline(settings: Any) -> None:
    """Each command is projected, and the fulfilment process reacts, as it commits."""
    settings.PROJECTIONS_INLINE = True


@pytest.mark.parametrize("month", range(MONTHS))
def test_a_month_of_a_shop_balances_its_books(month: int) -> None:
    shop = Shop(random.Random(month))
    first_morning = datetime.combine(date.today() - timedelta(days=DAYS + 1), time(8), tzinfo=UTC)
    with database_clock(first_morning) as clock:
        for sku, price in PRICES.items():
            handle(RegisterProduct(sku=sku, name=f"A {sku.lower()}", price=price))
        for day in range(DAYS):
            morning = first_morning + timedelta(days=day)
            clock.set(morning)
            shop.trade(morning.date())
            if day % 10 == 9:
                assert_the_books_balance(shop.books)
    assert_the_books_balance(shop.books)
    assert [str(divergence) for divergence in verify()] == []
    if month == 0:  # the first month's seed does every kind of step (others may by chance skip a rare one)
        assert set(shop.seen) == set(STEPS), set(STEPS) - set(shop.seen)


class Shop:
    """A day of the shop's staff, drawn from `random`, each step recorded in the books."""

    def __init__(self, random: random.Random) -> None:
        self.random = random
        self.books = Books()
        self.seen: Counter[str] = Counter()

    def trade(self, day: date) -> None:
        """One day: goods in, counts corrected, orders in, paid, shipped, delivered, called off."""
        draw = self.random
        for sku in PRICES:
            if draw.random() < 0.3:
                self.receive(sku, draw.randint(1, 12))
        if draw.random() < 0.3:
            self.adjust(draw.choice(list(PRICES)))
        for _ in range(draw.randint(1, 3)):
            self.order(draw.choice(CUSTOMERS))
        for order in self.books.in_status("PENDING"):
            if draw.random() < 0.8:
                self.confirm(order)
        for order in self.books.in_status("CONFIRMED"):
            if draw.random() < 0.7:
                self.pay(order, day)
        for order in self.books.in_status("PAID"):
            if draw.random() < 0.6:
                self.ship(order)
        for order in self.books.in_status("SHIPPED"):
            if draw.random() < 0.5:
                handle(DeliverOrder(order_id=order.order_id))
                order.status = "DELIVERED"
                self.seen["delivered"] += 1
        for order in self.books.in_status("DELIVERED"):
            if draw.random() < 0.1:
                self.take_back(order)
        for order in self.books.in_status("PENDING", "CONFIRMED", "PAID"):
            if draw.random() < 0.1:
                self.cancel(order, day)
        for order in [order for order in self.books.orders.values() if order.refund_due]:
            if draw.random() < 0.4:
                self.refund(order, day)
        if draw.random() < 0.1:
            handle(ForgetCustomer(customer_id=draw.choice(CUSTOMERS)))
            self.seen["forgotten"] += 1

    def receive(self, sku: str, units: int) -> None:
        handle(ReceiveStock(sku=sku, quantity=units))
        self.books.received[sku] += units
        self.seen["received"] += 1

    def adjust(self, sku: str) -> None:
        """A count finds more, or some are written off (never below what orders hold)."""
        available = self.books.available(sku)
        delta = self.random.choice([n for n in range(-min(available, 4), 5) if n])
        handle(AdjustStock(sku=sku, quantity_delta=delta, reason="counted" if delta > 0 else "damaged"))
        self.books.adjusted[sku] += delta
        self.seen["counted more" if delta > 0 else "written off"] += 1

    def order(self, customer: str) -> None:
        skus = self.random.sample(list(PRICES), self.random.randint(1, 2))
        lines = [LineItem(sku=sku, quantity=self.random.randint(1, 3), unit_price=PRICES[sku]) for sku in skus]
        if self.random.random() < 0.2:
            lines.append(GIFT_CARD)
        order_id = uuid4()
        handle(
            CreateOrder(
                order_id=order_id,
                customer_id=customer,
                currency="EUR",
                items=tuple(lines),
                customer_email=f"{customer}@example.org",
                shipping_address=AddressFactory.build(),
            )
        )
        items = {line.sku: (line.quantity, line.unit_price) for line in lines}
        tracked = {line.sku: line.quantity for line in lines if line.sku in PRICES}
        total = sum((line.quantity * line.unit_price for line in lines), Decimal("0"))
        self.books.orders[order_id] = ShopOrder(
            order_id=order_id, customer_id=customer, items=items, lines=tracked, total=total
        )

    def confirm(self, order: ShopOrder) -> None:
        """Confirmed, the fulfilment process reserves every line, or cancels the order if one is short."""
        in_stock = all(units <= self.books.available(sku) for sku, units in order.lines.items())
        handle(ConfirmOrder(order_id=order.order_id))
        order.status = "CONFIRMED" if in_stock else "CANCELLED"
        self.seen["out of stock"] += not in_stock

    def pay(self, order: ShopOrder, day: date) -> None:
        handle(PayOrder(order_id=order.order_id, payment_id=f"pay-{order.order_id}", amount=order.total))
        order.status, order.paid = "PAID", order.total
        self.books.days[(day, "orders_paid")] += 1
        self.books.days[(day, "revenue")] += order.total
        self.seen["paid"] += 1

    def ship(self, order: ShopOrder) -> None:
        handle(ShipOrder(order_id=order.order_id, tracking_number=f"T-{order.order_id}", carrier="DHL"))
        order.status = "SHIPPED"
        self.seen["shipped"] += 1
        for sku, units in order.lines.items():
            self.books.shipped[sku] += units

    def cancel(self, order: ShopOrder, day: date) -> None:
        """Called off; what was paid is owed back. Now and then the payment of a confirmed
        order is captured after all, too late: recorded, and owed back too."""
        was = order.status
        handle(CancelOrder(order_id=order.order_id, reason="customer asked"))
        order.status, order.refund_due = "CANCELLED", order.paid
        if order.paid:
            self.books.days[(day, "refunded")] += order.paid
            self.seen["cancelled after payment"] += 1
        if was == "CONFIRMED" and self.random.random() < 0.5:
            handle(PayOrder(order_id=order.order_id, payment_id=f"late-{order.order_id}", amount=order.total))
            order.refund_due += order.total
            self.seen["paid after cancellation"] += 1

    def take_back(self, order: ShopOrder) -> None:
        """Some or all of a delivered order's goods come back; restocked or not."""
        skus = [sku for sku in order.items if order.returnable(sku)]
        back = self.random.sample(skus, self.random.randint(1, len(skus)))
        lines = tuple(ReturnedLine(sku=sku, quantity=self.random.randint(1, order.returnable(sku))) for sku in back)
        restock = self.random.random() < 0.6
        handle(ReturnOrder(order_id=order.order_id, lines=lines, reason="did not fit", restock=restock))
        self.seen["returned"] += 1
        self.seen["restocked"] += restock
        for line in lines:
            order.returned[line.sku] = order.returned.get(line.sku, 0) + line.quantity
            order.refund_due += line.quantity * order.items[line.sku][1]
            if restock and line.sku in PRICES:
                self.books.restocked[line.sku] += line.quantity
        if not any(order.returnable(sku) for sku in order.items):
            order.status = "RETURNED"

    def refund(self, order: ShopOrder, day: date) -> None:
        """Billing pays back all that is owed, or a part of it."""
        amount = order.refund_due
        if self.random.random() < 0.3:
            amount = (amount / 2).quantize(CENT) or amount
        self.seen["refunded in full" if amount == order.refund_due else "refunded in part"] += 1
        handle(RefundOrder(order_id=order.order_id, refund_id=f"r-{uuid4()}", amount=amount))
        order.refund_due -= amount
        order.refunded += amount
        self.books.days[(day, "refunds_paid")] += amount


def assert_the_books_balance(books: Books) -> None:
    """The read models, and nothing else, against the simulation's tally."""
    using = read_database()
    stock = {row.sku: (row.on_hand, row.reserved, row.available) for row in ProductStock.objects.using(using)}
    assert stock == {sku: (books.on_hand(sku), books.reserved(sku), books.available(sku)) for sku in PRICES}
    shown = {
        (row["day"], column): row[column]
        for row in DailySales.objects.using(using).filter(currency="EUR").values("day", *COLUMNS)
        for column in COLUMNS
        if row[column]
    }
    assert shown == {key: amount for key, amount in books.days.items() if amount}
    statuses = dict(OrderSummary.objects.using(using).values_list("order_id", "status"))
    assert statuses == {order_id: order.status for order_id, order in books.orders.items()}
    # Every refund due is either paid or listed as owed, on the list and on the order's page.
    listed = {row.order_id: row.refund_due for row in order_summary_list(refund_due=True)}
    assert listed == {order_id: order.refund_due for order_id, order in books.orders.items() if order.refund_due}
    for table in (OrderSummary, OrderDetail):
        money = {
            row[0]: row[1:] for row in table.objects.using(using).values_list("order_id", "refund_due", "refunded")
        }
        assert money == {order_id: (order.refund_due, order.refunded) for order_id, order in books.orders.items()}
