"""The Order aggregate's state and how each event evolves it (`evolve_order`): the fold the
aggregate, its snapshots and the integration mapping share, apart from the rules commands obey
(orders/domain.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from kernel.money import Money
from orders.addresses import Address, PaymentMethod
from orders.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderEvent,
    OrderItemAdded,
    OrderItemRemoved,
    OrderLine,
    OrderPaid,
    OrderReturned,
    OrderShipped,
    OrderStockReserved,
    PaymentCapturedAfterCancellation,
    RefundOwed,
    RefundPaid,
    ReturnedLine,
    ShippingAddressChanged,
)


class OrderStatus(StrEnum):
    """Where an order is in its lifecycle."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    # Every unit delivered came back.
    RETURNED = "RETURNED"


# Until it ships, an order can be cancelled and sent elsewhere.
BEFORE_SHIPMENT = frozenset({OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.PAID})
CANCELLABLE = BEFORE_SHIPMENT
# A cancelled order still takes a payment captured too late: the money was taken, so it is owed back.
PAYABLE = frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED})


@dataclass(frozen=True, kw_only=True)
class OrderState:
    """Everything the rules need to know about one order; snapshots store exactly this,
    its personal fields sealed like OrderCreated's."""

    personal_fields: ClassVar[tuple[str, ...]] = OrderCreated.personal_fields
    data_subject: ClassVar[str] = "customer_id"

    order_id: UUID
    customer_id: str
    currency: str
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    payment_id: str = ""
    tracking_number: str = ""
    carrier: str = ""
    cancel_reason: str = ""
    customer_email: str | None = ""
    shipping_address: Address | None = None
    billing_address: Address | None = None
    payment_method: PaymentMethod | None = None
    # What the customer paid, and what a cancellation (or a payment after it) owes back.
    amount_paid: Decimal = Decimal("0.00")
    refund_due: Decimal = Decimal("0.00")
    # Payments captured after the cancellation, already owed back: one delivered again owes nothing more.
    late_payment_ids: tuple[str, ...] = ()
    # What was paid back, and the payouts that did it: one reported again pays nothing more.
    refunded: Decimal = Decimal("0.00")
    refund_ids: tuple[str, ...] = ()
    # How many of each SKU came back so far (one entry per SKU, in the order returned).
    returned: tuple[ReturnedLine, ...] = ()
    # Lines whose stock must be reserved before payment (fixed at confirmation).
    tracked_skus: tuple[str, ...] = ()
    stock_reserved: bool = False

    @property
    def awaiting_stock(self) -> bool:
        """True while tracked lines still wait for their stock reservation."""
        return bool(self.tracked_skus) and not self.stock_reserved

    def has_payment(self, payment_id: str) -> bool:
        """True if the order has recorded this payment already (before or after its cancellation)."""
        return payment_id == self.payment_id or payment_id in self.late_payment_ids

    def returned_quantity(self, sku: str) -> int:
        """How many of `sku` came back so far."""
        return sum(line.quantity for line in self.returned if line.sku == sku)

    @property
    def fully_returned(self) -> bool:
        """True once every unit of every line came back."""
        return all(self.returned_quantity(line.sku) >= line.quantity for line in self.lines)

    def line(self, sku: str) -> OrderLine | None:
        """The line for `sku`, if the order has one."""
        return next((line for line in self.lines if line.sku == sku), None)

    @property
    def total(self) -> Money:
        """Sum of line totals, in the order's currency."""
        amount = sum((line.line_total for line in self.lines), Decimal("0.00"))
        return Money(amount, self.currency)


def merge_line(lines: tuple[OrderLine, ...], sku: str, quantity: int, unit_price: Decimal) -> tuple[OrderLine, ...]:
    """Lines with `quantity` more of `sku`, appended as a new line if it was not there."""
    for index, line in enumerate(lines):
        if line.sku == sku:
            merged = replace(line, quantity=line.quantity + quantity)
            return (*lines[:index], merged, *lines[index + 1 :])
    return (*lines, OrderLine(sku=sku, quantity=quantity, unit_price=unit_price))


def merge_returned(returned: tuple[ReturnedLine, ...], line: ReturnedLine) -> tuple[ReturnedLine, ...]:
    """`returned` with `line`'s quantity added to its SKU's entry (appended if new)."""
    for index, seen in enumerate(returned):
        if seen.sku == line.sku:
            merged = ReturnedLine(sku=seen.sku, quantity=seen.quantity + line.quantity)
            return (*returned[:index], merged, *returned[index + 1 :])
    return (*returned, line)


def evolve_order(state: OrderState | None, event: OrderEvent) -> OrderState:
    """Apply one event to the order's state; total over the events the aggregate records."""
    if isinstance(event, OrderCreated):
        return OrderState(
            order_id=event.order_id,
            customer_id=event.customer_id,
            currency=event.currency,
            status=OrderStatus.PENDING,
            lines=event.lines,
            customer_email=event.customer_email,
            shipping_address=event.shipping_address,
            billing_address=event.billing_address,
            payment_method=event.payment_method,
        )
    if state is None:
        raise LookupError(f"{type(event).__name__} before OrderCreated in order {event.order_id}")
    match event:
        case OrderItemAdded(sku=sku, quantity=quantity, unit_price=unit_price):
            return replace(state, lines=merge_line(state.lines, sku, quantity, unit_price))
        case OrderItemRemoved(sku=sku):
            return replace(state, lines=tuple(line for line in state.lines if line.sku != sku))
        case OrderConfirmed(tracked_skus=tracked_skus):
            return replace(state, status=OrderStatus.CONFIRMED, tracked_skus=tracked_skus)
        case OrderStockReserved():
            return replace(state, stock_reserved=True)
        case OrderPaid(payment_id=payment_id, amount=amount):
            return replace(state, status=OrderStatus.PAID, payment_id=payment_id, amount_paid=amount)
        case ShippingAddressChanged(shipping_address=address):
            return replace(state, shipping_address=address)
        case OrderShipped(tracking_number=tracking_number, carrier=carrier):
            return replace(state, status=OrderStatus.SHIPPED, tracking_number=tracking_number, carrier=carrier)
        case OrderDelivered():
            return replace(state, status=OrderStatus.DELIVERED)
        case OrderCancelled(reason=reason, refund_due=refund_due):
            # None: a cancellation stored before refunds were recorded owes what was paid.
            refund = state.amount_paid if refund_due is None else refund_due
            return replace(state, status=OrderStatus.CANCELLED, cancel_reason=reason, refund_due=refund)
        case PaymentCapturedAfterCancellation(payment_id=payment_id, amount=amount):
            return replace(
                state,
                late_payment_ids=(*state.late_payment_ids, payment_id),
                amount_paid=state.amount_paid + amount,
                refund_due=state.refund_due + amount,
            )
        case OrderReturned(lines=lines, amount=amount):
            returned = state.returned
            for line in lines:
                returned = merge_returned(returned, line)
            state = replace(state, returned=returned, refund_due=state.refund_due + amount)
            return replace(state, status=OrderStatus.RETURNED) if state.fully_returned else state
        case RefundOwed():
            return state  # counted by the cancellation or return it follows
        case RefundPaid(refund_id=refund_id, amount=amount):
            return replace(
                state,
                refund_ids=(*state.refund_ids, refund_id),
                refunded=state.refunded + amount,
                refund_due=state.refund_due - amount,
            )
    raise TypeError(f"Order cannot apply {type(event).__name__}")
