"""`manage.py seed_demo --orders N`: a shop's month, driven through the command bus.

Products are registered and stocked, then N orders from named customers (e-mails,
addresses) are placed over the last --days days and taken to every state: pending,
confirmed, paid, shipped, delivered, cancelled before and after payment (money owed back,
some of it refunded), goods returned and refunded.
Each command runs with the clock at its moment in the month (Django's, and the database's
that stamps events on PostgreSQL: demo/clock.py), all of them in time order, through the
event store the product runs, so the event log's recorded_at grows with position as it does
live and the read models, timelines and the dashboard's chart spread over the days; the
appends stay gap-safe for a worker projecting meanwhile. Projections run in-process while
seeding, so each order's stock is reserved (the fulfilment process) before it is paid. For
a demo only: nothing live should ever be written with a clock set back.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from uuid import UUID, uuid4

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Max
from django.test.utils import override_settings
from django.utils import timezone
from tqdm import tqdm

from demo.clock import database_clock
from demo.shop import CATALOG, Customer, customers
from eventlog.models import StoredEvent
from inventory.commands import ReceiveStock, RegisterProduct
from orders.commands import (
    CancelOrder,
    ConfirmOrder,
    CreateOrder,
    DeliverOrder,
    LineItem,
    PayOrder,
    RefundOrder,
    ReturnOrder,
    ShipOrder,
)
from orders.events import ReturnedLine
from writeside.bus import handle
from writeside.commands import Command as BusCommand
from writeside.commands import CommandMetadata

# How far each order gets, in proportion: most are delivered, a few stay at every other stage.
PLAN = [
    "DELIVERED", "DELIVERED", "DELIVERED", "DELIVERED", "DELIVERED", "SHIPPED", "SHIPPED", "PAID", "PAID",
    "CONFIRMED", "PENDING", "CANCELLED", "REFUND_DUE", "REFUNDED", "RETURNED",
]  # fmt: skip
# How old an order in each state is, in days (min, max): a delivered order is not from today.
AGE_DAYS = {
    "PENDING": (0.0, 1.0),
    "CONFIRMED": (0.0, 1.5),
    "PAID": (0.1, 2.5),
    "SHIPPED": (1.0, 4.0),
    "DELIVERED": (5.0, 30.0),
    "CANCELLED": (0.5, 30.0),
    "REFUND_DUE": (1.0, 30.0),
    "REFUNDED": (3.0, 30.0),
    "RETURNED": (8.0, 30.0),
}
CARRIERS = ["DHL", "UPS", "DPD", "PostNL"]
REASONS = ["customer asked", "ordered twice", "found it cheaper", "address problem"]


@dataclass(frozen=True)
class Step:
    """One command at one moment of the month."""

    at: datetime
    command: BusCommand


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Everything in the block happens at `moment` (the events' recorded_at included)."""
    with mock.patch.object(timezone, "now", return_value=moment):
        yield


class Command(BaseCommand):
    help = "Create a demo shop through the command bus: products with stock and a month of orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=100)
        parser.add_argument("--days", type=int, default=30, help="spread the orders over this many days")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--if-empty", action="store_true", help="do nothing if the event log has events")
        parser.add_argument("--admin", action="store_true", help="create the superuser admin/admin if missing")

    def handle(self, *args: Any, **options: Any) -> None:
        """Seed the shop, then report."""
        if options["admin"]:
            self._ensure_admin()
        if options["if_empty"] and StoredEvent.objects.exists():
            self.stdout.write("The event log has events already; not seeding.")
            return
        if options["orders"] <= 0:
            return
        rng = random.Random(options["seed"])
        now = timezone.now()
        # Never before what the log holds already: recorded_at keeps growing with position.
        latest = StoredEvent.objects.aggregate(latest=Max("recorded_at"))["latest"]
        start = max(now - timedelta(days=options["days"]), latest or now - timedelta(days=options["days"]))
        meta = CommandMetadata(user="seed_demo", source="seed")
        steps = self._products(start, meta) + self._orders(options["orders"], rng, start, now, meta)
        steps.sort(key=lambda step: step.at)
        # Appended through the store the product runs (settings.EVENT_STORE), gap-safe append
        # lock and all, so a worker projecting meanwhile misses nothing; both clocks are set
        # back: the database's, which stamps recorded_at on PostgreSQL, and Django's.
        with override_settings(PROJECTIONS_INLINE=True), database_clock(start) as clock:
            for step in tqdm(steps, desc="commands", unit="command", file=self.stderr):
                clock.set(step.at)
                with clock_at(step.at):
                    handle(step.command)
        self.stdout.write(self.style.SUCCESS(f"Seeded {len(CATALOG)} products and {options['orders']} orders."))

    def _ensure_admin(self) -> None:
        users = get_user_model()
        if not users.objects.filter(username="admin").exists():
            users.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("Created superuser admin / admin (demo only).")

    @staticmethod
    def _products(start: datetime, meta: CommandMetadata) -> list[Step]:
        """Every product registered and stocked before the first order."""
        steps = []
        for product in CATALOG:
            steps.append(
                Step(start, RegisterProduct(sku=product.sku, name=product.name, price=product.price, metadata=meta))
            )
            steps.append(Step(start, ReceiveStock(sku=product.sku, quantity=product.stock, metadata=meta)))
        return steps

    def _orders(
        self, count: int, rng: random.Random, start: datetime, now: datetime, meta: CommandMetadata
    ) -> list[Step]:
        people = customers(max(8, count // 2), rng)
        plan = [PLAN[index % len(PLAN)] for index in range(count)]
        rng.shuffle(plan)
        steps: list[Step] = []
        for state in plan:
            low, high = AGE_DAYS[state]
            placed = max(now - timedelta(days=rng.uniform(low, high)), start + timedelta(minutes=1))
            steps.extend(self._one_order(state, rng.choice(people), placed, now, rng, meta))
        return steps

    @staticmethod
    def _one_order(
        state: str, customer: Customer, placed: datetime, now: datetime, rng: random.Random, meta: CommandMetadata
    ) -> list[Step]:
        """The commands that take one order to `state`, each a while after the one before."""
        products = rng.sample(CATALOG, rng.randint(1, 3))
        items = tuple(LineItem(sku=p.sku, quantity=rng.randint(1, 3), unit_price=p.price) for p in products)
        total = sum((item.quantity * item.unit_price for item in items), Decimal("0"))
        order_id: UUID = uuid4()
        create = CreateOrder(
            order_id=order_id,
            customer_id=customer.customer_id,
            currency="EUR",
            items=items,
            customer_email=customer.email,
            shipping_address=customer.address,
            payment_method=customer.payment_method,
            metadata=meta,
        )
        later: list[tuple[timedelta, Callable[[], BusCommand]]] = [
            (timedelta(minutes=rng.uniform(5, 90)), lambda: ConfirmOrder(order_id=order_id, metadata=meta)),
            (
                timedelta(minutes=rng.uniform(10, 600)),
                lambda: PayOrder(
                    order_id=order_id, payment_id=f"pay-{rng.randrange(10**8):08d}", amount=total, metadata=meta
                ),
            ),
            (
                timedelta(hours=rng.uniform(6, 30)),
                lambda: ShipOrder(
                    order_id=order_id,
                    tracking_number=f"{rng.randrange(10**11):011d}",
                    carrier=rng.choice(CARRIERS),
                    metadata=meta,
                ),
            ),
            (timedelta(hours=rng.uniform(20, 70)), lambda: DeliverOrder(order_id=order_id, metadata=meta)),
        ]
        stages = {"PENDING": 0, "CONFIRMED": 1, "PAID": 2, "SHIPPED": 3, "DELIVERED": 4, "RETURNED": 4, "CANCELLED": 1}
        chosen = later[: stages.get(state, 2)]  # the rest are paid, then cancelled
        if state in ("CANCELLED", "REFUND_DUE", "REFUNDED"):
            reason = rng.choice(REASONS)
            chosen.append(
                (
                    timedelta(hours=rng.uniform(1, 20)),
                    lambda: CancelOrder(order_id=order_id, reason=reason, metadata=meta),
                )
            )
        owed = total
        if state == "RETURNED":  # one line comes back, onto the shelf, and is paid back
            first = items[0]
            owed = first.quantity * first.unit_price
            chosen.append(
                (
                    timedelta(days=rng.uniform(1, 4)),
                    lambda: ReturnOrder(
                        order_id=order_id,
                        lines=(ReturnedLine(sku=first.sku, quantity=first.quantity),),
                        reason="did not fit",
                        restock=True,
                        metadata=meta,
                    ),
                )
            )
        if state in ("REFUNDED", "RETURNED"):
            refund_id = f"refund-{rng.randrange(10**8):08d}"
            chosen.append(
                (
                    timedelta(hours=rng.uniform(2, 48)),
                    lambda: RefundOrder(order_id=order_id, refund_id=refund_id, amount=owed, metadata=meta),
                )
            )
        steps = [Step(placed, create)]
        moment = placed
        for wait, build in chosen:
            moment += wait
            steps.append(Step(moment, build()))
        # An order whose life would run past now is moved back whole.
        overshoot = steps[-1].at - (now - timedelta(minutes=1))
        if overshoot > timedelta(0):
            steps = [Step(step.at - overshoot, step.command) for step in steps]
        return steps
