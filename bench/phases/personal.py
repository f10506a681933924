"""`personal`: the write path of commands that carry personal data (docs/architecture.md,
"Personal data"). Each of N orders is placed with an e-mail and an address (the customer's
key read, or created, with one statement; the event and snapshot sealed), then sent to
another address (a load that unseals, a new sealed event), then confirmed (a load only).
Customers recur (one per 10 orders), as in a shop. Not part of the default phases: run it
on two revisions, alternately, to see what sealing costs."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any
from uuid import uuid4

from django.test.utils import override_settings

from bench.workload import timed
from orders.addresses import Address
from orders.commands import ChangeShippingAddress, ConfirmOrder, CreateOrder, LineItem
from writeside.bus import handle


def _address(n: int) -> Address:
    return Address(name=f"Customer {n}", line1=f"{n} Main Street", postal_code="10115", city="Berlin", country="DE")


def personal(orders: int, seed: int) -> dict[str, Any]:
    """Latency figures of each of the three commands, N of each, with no subscribers."""
    created = [
        CreateOrder(
            order_id=uuid4(),
            customer_id=f"p-{seed}-{n % max(1, orders // 10)}",
            currency="EUR",
            items=(LineItem(sku="SKU-1", quantity=1, unit_price=Decimal("9.99")),),
            customer_email=f"customer{n}@example.org",
            shipping_address=_address(n),
        )
        for n in range(orders)
    ]
    moved = [
        ChangeShippingAddress(order_id=c.order_id, shipping_address=_address(n + orders)) for n, c in enumerate(created)
    ]
    confirmed = [ConfirmOrder(order_id=c.order_id) for c in created]
    with override_settings(EVENT_SUBSCRIBERS=[], PROJECTIONS_INLINE=False):
        return {
            name: timed((partial(handle, command) for command in commands), "commands")
            for name, commands in (("create", created), ("change_address", moved), ("confirm", confirmed))
        }
