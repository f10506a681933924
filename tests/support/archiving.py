"""What the archive tests build and look for: an order taken through to delivered (closed, so
due for archiving), and every plain copy of a customer's personal data left in either database.

The orders are built with the factory-boy factories (tests/factories.py), as every test's are;
this module only says which commands close an order, once for every archive test module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import connections

from orders.addresses import Address
from projector.loop import read_database
from tests.factories import (
    ConfirmOrderFactory,
    CreateOrderFactory,
    DeliverOrderFactory,
    PayOrderFactory,
    ShipOrderFactory,
    total_of,
)
from writeside.bus import handle


def delivered_order(customer_id: str = "c-archive", **create: Any) -> UUID:
    """An order placed (CreateOrderFactory with `create`'s fields), confirmed, paid, shipped and
    delivered: closed, and owed two emails (confirmed, shipped)."""
    order = CreateOrderFactory(customer_id=customer_id, **create)
    handle(order)
    handle(ConfirmOrderFactory(order_id=order.order_id))
    handle(PayOrderFactory(order_id=order.order_id, amount=total_of(order)))
    handle(ShipOrderFactory(order_id=order.order_id))
    handle(DeliverOrderFactory(order_id=order.order_id))
    order_id: UUID = order.order_id
    return order_id


def clear_copies(*secrets: str) -> dict[str, list[str]]:
    """Per table of the read database and of the write database, every row holding one of
    `secrets` (a customer's e-mail, name, street) as plain text in any column, whatever its
    type (JSON and text alike): the outbox, the directory, the read models, fulfilment, the
    relay's carried state, the audit trail and the command log."""
    found: dict[str, list[str]] = {}
    for using in sorted({read_database(), "default"}):
        with connections[using].cursor() as cursor:
            for table in connections[using].introspection.table_names(cursor):
                cursor.execute(f"SELECT * FROM {connections[using].ops.quote_name(table)}")
                rows = [repr(row) for row in cursor.fetchall()]
                if hits := [row for row in rows if any(secret in row for secret in secrets)]:
                    found[f"{using}.{table}"] = hits
    return found


@dataclass(frozen=True)
class Customer:
    """A customer with personal data to forget, in strings no other row holds by chance."""

    customer_id: str
    email: str
    name: str
    street: str

    @property
    def address(self) -> Address:
        """Their shipping address: their name and street, a city anyone may know."""
        return Address(name=self.name, line1=self.street, postal_code="10115", city="Berlin", country="DE")

    def delivered_order(self) -> UUID:
        """A delivered order of theirs, with their e-mail and address."""
        return delivered_order(self.customer_id, customer_email=self.email, shipping_address=self.address)

    def plain_copies(self) -> dict[str, list[str]]:
        """clear_copies of their e-mail, name and street."""
        return clear_copies(self.email, self.name, self.street)
