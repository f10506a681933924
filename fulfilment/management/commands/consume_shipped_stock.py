"""`manage.py consume_shipped_stock`: consume the reservations that orders shipped before
shipments consumed stock still hold (fulfilment/shipped_before.py); `--dry-run` only counts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from fulfilment.shipped_before import consume_shipped_before, shipped_backlog


class Command(BaseCommand):
    help = "Consume the stock reservations still held by orders that shipped (safe to repeat)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count the orders and units, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            backlog = shipped_backlog()
            self.stdout.write(f"{backlog.orders} shipped orders hold {backlog.units} reserved units (nothing changed)")
            return
        backlog = consume_shipped_before()
        self.stdout.write(f"consumed {backlog.units} reserved units of {backlog.orders} shipped orders")
