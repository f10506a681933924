"""The customer as a data subject: the one stream that records each time they were forgotten.

Guarantee: forgetting appends CustomerForgotten only when there is something to forget (the
customer's key existed, or they were never forgotten before), so forgetting twice changes
nothing and answers the same; a customer who ordered again since has a new key, and
forgetting them again erases that too. The key itself is deleted by the handler, in the same
transaction (orders/handlers.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID, uuid5

from kernel.events import check_text
from orders.events import CustomerForgotten
from writeside.aggregate import Aggregate

# uuid5 namespace of customer streams: a stream id of fixed length for a customer id of up to
# 64 characters, that no order (uuid4) or product (SKU) stream can take.
CUSTOMER_STREAMS = UUID("5a3c1f0e-6f1d-4d1e-9a53-8f0b7c2d4e61")


def customer_stream_id(customer_id: str) -> str:
    """The stream of a customer's privacy events."""
    return f"customer-{uuid5(CUSTOMER_STREAMS, customer_id)}"


def check_customer_id(customer_id: str) -> None:
    """Raise InvalidValue unless `customer_id` could name a customer (as OrderCreated checks)."""
    check_text("customer_id", customer_id, 64)


@dataclass(frozen=True, kw_only=True)
class CustomerState:
    """How often the customer was forgotten, and which orders the last time."""

    customer_id: str
    times_forgotten: int = 0


class Customer(Aggregate[CustomerState, CustomerForgotten]):
    """A customer whose personal data may be erased."""

    stream_type: ClassVar[str] = "customer"

    @staticmethod
    def evolve(state: CustomerState | None, event: CustomerForgotten) -> CustomerState:
        """Count the forgettings."""
        return CustomerState(customer_id=event.customer_id, times_forgotten=(state.times_forgotten if state else 0) + 1)

    @classmethod
    def new(cls, customer_id: str) -> Customer:
        """A customer never forgotten so far (no events yet)."""
        check_customer_id(customer_id)
        return cls(customer_stream_id(customer_id))

    def forget(self, customer_id: str, order_ids: Iterable[UUID], *, had_key: bool) -> bool:
        """Record that the customer was forgotten, unless that changes nothing: they were
        forgotten before and have sealed nothing since (no key). True if recorded."""
        if self.exists and not had_key:
            return False
        self._record(CustomerForgotten(customer_id=customer_id, order_ids=tuple(order_ids)))
        return True
