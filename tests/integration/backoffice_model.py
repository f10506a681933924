"""The in-memory model of the back office that tests/integration/test_model.py drives beside the
real one, and the few levers that test pulls on the real services: a projector run the way a
worker runs it (with a bug that can be switched on for chosen orders), the inbound consumer's
boundary for one message, and an empty database for each example.

The model keeps only what the rules decide (an order's status, what it owes back, whether its
customer's personal data was forgotten) and predicts whether each command is taken or refused,
so the served state can be compared with it after every step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from django.core.management import call_command
from django.db import connections

from eventlog.store import RecordedEvent
from integration.inbound import RefusedMessage, to_command
from orders.state import CANCELLABLE, PAYABLE, OrderStatus
from projector.loop import all_partitions
from projector.running import run_partition
from readmodels.projections.orders import OrdersProjection
from writeside import bus
from writeside.errors import DomainError
from writeside.unit_of_work import CommandResult


@dataclass
class ModelOrder:
    """What the rules decided about one order."""

    customer: str
    total: Decimal
    status: OrderStatus = OrderStatus.PENDING
    amount_paid: Decimal = Decimal("0.00")
    refund_due: Decimal = Decimal("0.00")
    payments: set[str] = field(default_factory=set)
    # Personal data given before the customer's latest forgetting reads as nothing.
    email_forgotten: bool = False
    address_forgotten: bool = False

    def may(self, action: str) -> bool:
        """Whether the order's status lets `action` through (orders/domain.py's rules)."""
        allowed = {
            "confirm": {OrderStatus.PENDING},
            "pay": PAYABLE,
            "ship": {OrderStatus.PAID},
            "deliver": {OrderStatus.SHIPPED},
            "cancel": CANCELLABLE,
            "address": CANCELLABLE,
        }
        return self.status in allowed[action]

    def pay(self, payment_id: str) -> None:
        """A payment of the total: the order is paid, or, cancelled already, owes it back (once)."""
        if payment_id in self.payments:
            return
        self.payments.add(payment_id)
        self.amount_paid += self.total
        if self.status is OrderStatus.CANCELLED:
            self.refund_due += self.total
        else:
            self.status = OrderStatus.PAID

    def cancel(self) -> None:
        self.status, self.refund_due = OrderStatus.CANCELLED, self.amount_paid


@dataclass
class Model:
    """The whole back office as the test expects it."""

    orders: dict[UUID, ModelOrder] = field(default_factory=dict)
    # Customers whose key was forgotten at least once (their ForgetCustomer is taken again).
    forgotten: set[str] = field(default_factory=set)
    products: dict[str, tuple[str, int]] = field(default_factory=dict)  # sku -> (name, on hand)

    def of(self, customer: str) -> list[ModelOrder]:
        return [order for order in self.orders.values() if order.customer == customer]

    def forget(self, customer: str) -> bool:
        """Whether ForgetCustomer is taken; marks what it erases."""
        orders = self.of(customer)
        if not orders and customer not in self.forgotten:
            return False
        self.forgotten.add(customer)
        for order in orders:
            order.email_forgotten = order.address_forgotten = True
        return True


def outcome(command: Any) -> CommandResult | DomainError:
    """The bus's result for `command`, or the DomainError it refused it with."""
    try:
        return bus.handle(command)
    except DomainError as refused:
        return refused


def deliver(body: bytes) -> str:
    """One inbound message through the consumer's boundary (integration/consumer.py's `settle`,
    without the broker): "applied", or "dead-lettered" for a message refused for good."""
    try:
        bus.handle(to_command(body))
    except (RefusedMessage, DomainError):
        return "dead-lettered"
    return "applied"


def cloud_event(event_type: str, message_id: str, data: dict[str, Any], source: str = "/partner") -> bytes:
    """A partner's CloudEvent as it arrives on the inbound queue (docs/events.md)."""
    envelope = {
        "specversion": "1.0",
        "id": message_id,
        "source": source,
        "type": event_type,
        "time": "2026-01-01T12:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }
    return json.dumps(envelope).encode()


class BrokenOrders(OrdersProjection):
    """The orders projection with a bug that fires on the events of the orders in `poisoned`
    until they are taken out (the bug fixed). Named in settings.PROJECTIONS in place of the
    real one, so the worker's loop, the rebuilds and the books check all run this one."""

    poisoned: ClassVar[set[str]] = set()

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        if any(event.stream_id in self.poisoned for event in events):
            raise RuntimeError("projection bug")
        super().apply(events, using)


ORDERS = f"{OrdersProjection.__module__}.{OrdersProjection.__name__}"
BROKEN_ORDERS = f"{BrokenOrders.__module__}.{BrokenOrders.__name__}"


def project() -> None:
    """Catch every projection up on every partition, as a worker answering each doorbell does."""
    for partition in all_partitions():
        while run_partition(partition):
            pass


def empty_databases() -> None:
    """Every table emptied, as a transactional test's teardown does (the root conftest lets
    its flush empty the event log): each example starts from nothing."""
    for alias in connections:
        call_command("flush", verbosity=0, interactive=False, database=alias)
