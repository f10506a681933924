"""The in-memory model of the back office that tests/integration/test_model.py drives beside the
real one (the levers it pulls on the real services are in model_levers.py).

The model keeps only what the rules decide (an order's status, what it owes back, whether its
customer's personal data was forgotten, when its payment deadline falls due) and predicts
whether each command is taken or refused and which orders a deadline check cancels, so the
served state can be compared with it after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from orders.state import CANCELLABLE, PAYABLE, OrderStatus


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
    # When its payment deadline falls due: its confirmation's time (the database's clock, as
    # recorded) plus PAYMENT_DEADLINE_SECONDS; None until confirmed.
    due_at: datetime | None = None

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

    def due_by(self, moment: datetime) -> bool:
        """Whether a deadline check at `moment` cancels it: confirmed, unpaid, due at or before."""
        return self.status is OrderStatus.CONFIRMED and self.due_at is not None and self.due_at <= moment


@dataclass
class Model:
    """The whole back office as the test expects it."""

    orders: dict[UUID, ModelOrder] = field(default_factory=dict)
    # Customers whose key was forgotten at least once (their ForgetCustomer is taken again).
    forgotten: set[str] = field(default_factory=set)
    products: dict[str, tuple[str, int]] = field(default_factory=dict)  # sku -> (name, on hand)

    def due_by(self, moment: datetime) -> list[ModelOrder]:
        """The orders a deadline check at `moment` cancels."""
        return [order for order in self.orders.values() if order.due_by(moment)]

    def open_deadlines(self) -> list[datetime]:
        """When each confirmed, unpaid order falls due, earliest first."""
        waiting = (order.due_at for order in self.orders.values() if order.status is OrderStatus.CONFIRMED)
        return sorted(due for due in waiting if due is not None)

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
