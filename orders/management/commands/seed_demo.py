"""`manage.py seed_demo --orders N`: realistic orders driven through the command bus."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from eventlog.models import StoredEvent
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
from writeside.bus import handle
from writeside.commands import CommandMetadata

CATALOG = [(f"SKU-{n:03d}", Decimal(random.Random(n).randint(199, 24999)) / 100) for n in range(1, 61)]
CARRIERS = ["DHL", "UPS", "FedEx", "PostNL", ""]
REASONS = ["customer asked", "payment failed", "duplicate order", "address problem"]


class Command(BaseCommand):
    help = "Create demo orders through the command bus: mixed lifecycles, some cancelled."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=100)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--if-empty", action="store_true", help="do nothing if the event log has events")
        parser.add_argument("--admin", action="store_true", help="create the superuser admin/admin if missing")

    def handle(self, *args: Any, **options: Any) -> None:
        """Seed the orders, then report."""
        if options["admin"]:
            self._ensure_admin()
        if options["if_empty"] and StoredEvent.objects.exists():
            self.stdout.write("The event log has events already; not seeding.")
            return
        rng = random.Random(options["seed"])
        meta = CommandMetadata(user="seed_demo", source="seed")
        for _ in tqdm(range(options["orders"]), desc="orders", unit="order", file=self.stderr):
            self._one_order(rng, meta)
        self.stdout.write(self.style.SUCCESS(f"Seeded {options['orders']} orders."))

    def _ensure_admin(self) -> None:
        users = get_user_model()
        if not users.objects.filter(username="admin").exists():
            users.objects.create_superuser("admin", "admin@example.com", "admin")
            self.stdout.write("Created superuser admin / admin (demo only).")

    def _one_order(self, rng: random.Random, meta: CommandMetadata) -> None:
        lines = rng.sample(CATALOG, rng.randint(1, 4))
        currency = rng.choices(["EUR", "USD", "GBP"], weights=[8, 2, 1])[0]
        create = CreateOrder(
            customer_id=f"c-{rng.randint(1, 50)}",
            currency=currency,
            items=tuple(LineItem(sku=sku, quantity=rng.randint(1, 5), unit_price=price) for sku, price in lines),
            metadata=meta,
        )
        handle(create)
        order_id = create.order_id
        total = sum((item.quantity * item.unit_price for item in create.items), Decimal("0"))
        if rng.random() < 0.25:
            sku, price = rng.choice([entry for entry in CATALOG if entry not in lines])
            handle(AddOrderItem(order_id=order_id, sku=sku, quantity=1, unit_price=price, metadata=meta))
            if rng.random() < 0.4:
                handle(RemoveOrderItem(order_id=order_id, sku=sku, metadata=meta))
            else:
                total += price
        stage = rng.choices(range(5), weights=[2, 2, 2, 2, 4])[0]  # how far it got
        cancel = rng.random() < 0.12
        if cancel and stage <= 2:
            for step in range(stage):
                self._step(step, order_id, total, rng, meta)
            handle(CancelOrder(order_id=order_id, reason=rng.choice(REASONS), metadata=meta))
            return
        for step in range(stage):
            self._step(step, order_id, total, rng, meta)

    def _step(self, step: int, order_id: Any, total: Decimal, rng: random.Random, meta: CommandMetadata) -> None:
        if step == 0:
            handle(ConfirmOrder(order_id=order_id, metadata=meta))
        elif step == 1:
            handle(
                PayOrder(order_id=order_id, payment_id=f"pay-{rng.randrange(10**8):08d}", amount=total, metadata=meta)
            )
        elif step == 2:
            tracking = f"TRK-{rng.randrange(10**9):09d}"
            handle(ShipOrder(order_id=order_id, tracking_number=tracking, carrier=rng.choice(CARRIERS), metadata=meta))
        elif step == 3:
            handle(DeliverOrder(order_id=order_id, metadata=meta))
