"""Measure the relay: events/s published with publisher confirms, checkpoint included.

Places orders through the bus (created, confirmed, paid: three public events each), then
times the relay catching every partition up to the head against a throwaway exchange.
Run it on a benchmark database, never a live one (it appends orders).
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integration.broker import connection, events_exchange
from integration.relay import RelayProjection
from orders.commands import ConfirmOrder, CreateOrder, LineItem, PayOrder
from projector.loop import Projector, all_partitions
from projector.models import ProjectionCheckpoint
from writeside.bus import handle


class Command(BaseCommand):
    help = "Publish N orders' events through the relay and report events/s with confirms."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--orders", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.INTEGRATION_BROKER_URL:
            raise CommandError("Set INTEGRATION_BROKER_URL")
        settings.INTEGRATION_EVENTS_EXCHANGE = f"backoffice.events.measure-{uuid.uuid4().hex[:8]}"
        for _ in range(options["orders"]):
            create = CreateOrder(
                customer_id="bench",
                currency="EUR",
                items=(LineItem(sku="SKU-1", quantity=1, unit_price=Decimal("9.99")),),
            )
            handle(create)
            handle(ConfirmOrder(order_id=create.order_id))
            handle(PayOrder(order_id=create.order_id, payment_id="p", amount=Decimal("9.99")))
        relay = RelayProjection()
        before = dict(ProjectionCheckpoint.objects.filter(projection=relay.name).values_list("partition", "position"))
        started = time.perf_counter()
        published = sum(Projector(relay).catch_up(partition).applied for partition in all_partitions())
        elapsed = time.perf_counter() - started
        with connection() as conn:
            events_exchange()(conn.channel()).delete()
        self.stdout.write(
            f"{published} log events relayed ({3 * options['orders']} new public events) in {elapsed:.2f}s: "
            f"{3 * options['orders'] / elapsed:.0f} events/s published with confirms (checkpoints from {before})"
        )
