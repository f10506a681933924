"""The Order aggregate: the rules its commands obey and the events they record (its state and
how events evolve it are in orders/state.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from kernel.errors import BusinessRuleViolated, InvalidTransition
from kernel.money import check_currency, in_minor_units, priced
from orders.addresses import Address, PaymentMethod, check_new_address
from orders.commands import LineItem
from orders.errors import LineNotFound, StockNotReserved
from orders.events import (
    CANCELLED_AFTER_PAYMENT,
    MAX_QUANTITY,
    RETURNED,
    UNKNOWN_CARRIER,
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
from orders.state import (
    BEFORE_SHIPMENT,
    CANCELLABLE,
    PAYABLE,
    OrderState,
    OrderStatus,
    evolve_order,
    merge_line,
    merge_returned,
)
from writeside.aggregate import Aggregate

MAX_LINES = 50
# A payment must equal the total and is capped below this (check_price), so a larger total
# could be placed but never paid. One order's amounts fit the read models' numeric(17,3);
# sums over many orders are numeric(38,3) (readmodels/models.py), which no count of orders
# below this cap can overflow.
MAX_TOTAL = Decimal("1e12")


# The most events one order's stream may hold (the handlers pass MAX_EVENTS_PER_ORDER in).
# Item changes stop LIFECYCLE_EVENTS short of it: the longest way on from PENDING
# (confirmed, stock reserved, paid, shipped, delivered; or confirmed, stock reserved, paid,
# cancelled, refund owed) always fits, so an order whose items used up their share can still
# be confirmed, paid or cancelled, and lifecycle commands never need the check.
MAX_EVENTS = 1000
LIFECYCLE_EVENTS = 5


class Order(Aggregate[OrderState, OrderEvent]):
    """An order from placement to delivery or cancellation."""

    stream_type: ClassVar[str] = "order"

    def __init__(
        self, aggregate_id: str, state: OrderState | None = None, version: int = 0, *, max_events: int = MAX_EVENTS
    ) -> None:
        if max_events <= LIFECYCLE_EVENTS:
            raise ValueError(f"An order needs room for more than {LIFECYCLE_EVENTS} events, not {max_events}")
        super().__init__(aggregate_id, state, version)
        self.max_events = max_events

    @staticmethod
    def evolve(state: OrderState | None, event: OrderEvent) -> OrderState:
        """See `evolve_order`."""
        return evolve_order(state, event)

    @property
    def order_id(self) -> UUID:
        """The order's id as a UUID."""
        return UUID(self.id)

    @classmethod
    def create(
        cls,
        order_id: UUID,
        customer_id: str,
        currency: str,
        items: Iterable[LineItem],
        customer_email: str = "",
        *,
        shipping_address: Address | None = None,
        billing_address: Address | None = None,
        payment_method: PaymentMethod | None = None,
    ) -> Order:
        """Place an order with 1 to 50 lines; repeated SKUs add up. The billing address is
        the shipping address unless another is given."""
        check_currency(currency)
        check_new_address(shipping_address)
        check_new_address(billing_address)
        lines: tuple[OrderLine, ...] = ()
        for item in items:
            # Building the OrderLine validates sku, quantity and price before merging.
            line = OrderLine(sku=item.sku, quantity=item.quantity, unit_price=item.unit_price)
            lines = _checked_merge(lines, line.sku, line.quantity, priced(line.unit_price, currency))
        if not lines:
            raise BusinessRuleViolated("An order needs at least one line")
        order = cls(str(order_id))
        created = OrderCreated(
            order_id=order_id,
            customer_id=customer_id,
            currency=currency,
            lines=lines,
            customer_email=customer_email,
            shipping_address=shipping_address,
            billing_address=billing_address or shipping_address,
            payment_method=payment_method,
        )
        order._record(created)
        return order

    def _require(self, allowed: Iterable[OrderStatus], action: str) -> OrderState:
        state = self.state
        if state.status not in allowed:
            raise InvalidTransition(f"Cannot {action} an order in status {state.status}")
        return state

    def _require_room_for_edits(self) -> None:
        # Item and address changes share the room left above the lifecycle's own events.
        if self.version >= self.max_events - LIFECYCLE_EVENTS:
            raise BusinessRuleViolated(
                f"Order {self.id} has had all the item and address changes it may have ({self.version} of at most "
                f"{self.max_events} events, the last {LIFECYCLE_EVENTS} kept for its lifecycle); "
                "place a new order for further items"
            )

    def add_item(self, sku: str, quantity: int, unit_price: Decimal) -> None:
        """Add quantity of a SKU while the order is pending."""
        state = self._require({OrderStatus.PENDING}, "add items to")
        self._require_room_for_edits()
        event = OrderItemAdded(order_id=self.order_id, sku=sku, quantity=quantity, unit_price=unit_price)
        event = replace(event, unit_price=priced(unit_price, state.currency))
        _checked_merge(state.lines, sku, quantity, event.unit_price)
        self._record(event)

    def remove_item(self, sku: str) -> None:
        """Take a SKU's line off a pending order; the last line cannot go."""
        state = self._require({OrderStatus.PENDING}, "remove items from")
        self._require_room_for_edits()
        if state.line(sku) is None:
            raise LineNotFound(f"Order {self.id} has no line for SKU {sku!r}")
        if len(state.lines) == 1:
            raise BusinessRuleViolated("Cannot remove the last line of an order; cancel the order instead")
        self._record(OrderItemRemoved(order_id=self.order_id, sku=sku))

    def confirm(self, tracked_skus: Iterable[str] = ()) -> None:
        """Freeze the lines of a pending order, naming those whose stock must be reserved."""
        state = self._require({OrderStatus.PENDING}, "confirm")
        wanted = set(tracked_skus)
        tracked = tuple(line.sku for line in state.lines if line.sku in wanted)
        self._record(OrderConfirmed(order_id=self.order_id, tracked_skus=tracked))

    def mark_stock_reserved(self) -> bool:
        """Record that every tracked line is reserved; False (nothing recorded) if it already was."""
        state = self._require({OrderStatus.CONFIRMED}, "mark stock reserved for")
        if state.stock_reserved or not state.tracked_skus:
            return False
        self._record(OrderStockReserved(order_id=self.order_id))
        return True

    def pay(self, payment_id: str, amount: Decimal, currency: str = "") -> bool:
        """Record payment of a confirmed order; the amount must equal the total, and the
        currency, when the payer names one, the order's.

        A payment captured for an order already cancelled lost the race with the cancellation
        (the payment deadline's or a person's), but the money was taken: checked the same way,
        it is recorded and its amount owed back. Such a payment recorded already (before or
        after the cancellation) changes nothing (False): delivered twice, it is owed once."""
        state = self._require(PAYABLE, "pay")
        if state.status is OrderStatus.CANCELLED:
            return self._pay_after_cancellation(state, payment_id, amount, currency)
        if state.awaiting_stock:
            raise StockNotReserved(f"Cannot pay order {self.id} before stock is reserved for it")
        event = OrderPaid(order_id=self.order_id, payment_id=payment_id, amount=amount)
        event = replace(event, amount=_checked_payment(state, amount, currency))
        self._record(event)
        return True

    def _pay_after_cancellation(self, state: OrderState, payment_id: str, amount: Decimal, currency: str) -> bool:
        event = PaymentCapturedAfterCancellation(order_id=self.order_id, payment_id=payment_id, amount=amount)
        event = replace(event, amount=_checked_payment(state, amount, currency))
        if state.has_payment(payment_id):
            return False
        if self.version >= self.max_events:
            raise BusinessRuleViolated(
                f"Order {self.id} holds the most events an order may ({self.max_events}); "
                f"payment {payment_id} cannot be recorded on it"
            )
        self._record(event)
        return True

    def ship(self, tracking_number: str, carrier: str = "") -> None:
        """Hand a paid order to a carrier (UNKNOWN_CARRIER when none is named)."""
        self._require({OrderStatus.PAID}, "ship")
        carrier = carrier.strip() if isinstance(carrier, str) else carrier
        self._record(
            OrderShipped(order_id=self.order_id, tracking_number=tracking_number, carrier=carrier or UNKNOWN_CARRIER)
        )

    def deliver(self) -> None:
        """Record that a shipped order arrived."""
        self._require({OrderStatus.SHIPPED}, "deliver")
        self._record(OrderDelivered(order_id=self.order_id))

    def change_shipping_address(self, address: Address) -> None:
        """Send an order that has not shipped yet (nor been cancelled) to another address."""
        self._require(BEFORE_SHIPMENT, "change the shipping address of")
        self._require_room_for_edits()
        check_new_address(address)
        self._record(
            ShippingAddressChanged(order_id=self.order_id, shipping_address=address, customer_id=self.state.customer_id)
        )

    def cancel(self, reason: str) -> None:
        """Call off an order that is pending, confirmed or paid; a paid one owes its payment back."""
        state = self._require(CANCELLABLE, "cancel")
        paid = in_minor_units(state.amount_paid, state.currency)
        self._record(OrderCancelled(order_id=self.order_id, reason=reason, refund_due=paid))
        if paid:
            self._record(RefundOwed(order_id=self.order_id, amount=paid, reason=CANCELLED_AFTER_PAYMENT))

    def cancel_unpaid(self, reason: str) -> None:
        """Call off a confirmed order that was never paid. Unlike `cancel`, a paid order is
        refused: the payment deadline must never undo a payment that came first."""
        state = self._require({OrderStatus.CONFIRMED}, "cancel as unpaid")
        self._record(
            OrderCancelled(
                order_id=self.order_id, reason=reason, refund_due=in_minor_units(state.amount_paid, state.currency)
            )
        )

    def _require_room(self, what: str, events: int = 1) -> None:
        # Refunds and returns come after the lifecycle: each needs places of its own in the stream.
        if self.version + events > self.max_events:
            raise BusinessRuleViolated(
                f"Order {self.id} holds the most events an order may ({self.max_events}); "
                f"{what} cannot be recorded on it"
            )

    def refund(self, refund_id: str, amount: Decimal, currency: str = "") -> bool:
        """Record money paid back: at most what is owed, in the order's currency when the payer
        names one. A payout recorded already changes nothing (False), whatever it says now."""
        state = self.state
        event = RefundPaid(order_id=self.order_id, refund_id=refund_id, amount=amount)
        if state.refund_ids and refund_id in state.refund_ids:
            return False
        if currency not in ("", state.currency):
            raise BusinessRuleViolated(f"Refund {refund_id} is in {currency}; order {self.id} is in {state.currency}")
        event = replace(event, amount=priced(amount, state.currency, "amount"))
        if amount > state.refund_due:
            raise BusinessRuleViolated(
                f"Refund {amount} {state.currency} is more than the {state.refund_due} {state.currency} "
                f"order {self.id} owes"
            )
        self._require_room(f"refund {refund_id}")
        self._record(event)
        return True

    def take_back(self, lines: Iterable[ReturnedLine], reason: str, *, restock: bool) -> None:
        """Record goods of a delivered order coming back, owing their value at the prices paid.
        Each SKU must be on the order, and no more of it may come back than was delivered less
        what came back before; SKUs named twice add up."""
        state = self._require({OrderStatus.DELIVERED}, "return goods of")
        wanted: tuple[ReturnedLine, ...] = ()
        for line in lines:
            wanted = merge_returned(wanted, line)
        amount = Decimal("0.00")
        for line in wanted:
            ordered = state.line(line.sku)
            if ordered is None:
                raise BusinessRuleViolated(f"Order {self.id} has no line for SKU {line.sku!r}")
            left = ordered.quantity - state.returned_quantity(line.sku)
            if line.quantity > left:
                raise BusinessRuleViolated(
                    f"Cannot return {line.quantity} of SKU {line.sku!r}: {left} delivered and not returned yet"
                )
            amount += line.quantity * ordered.unit_price
        # Lines recorded before amounts were held to minor units may carry a third "0" digit.
        amount = in_minor_units(amount, state.currency)
        event = OrderReturned(order_id=self.order_id, lines=wanted, reason=reason, restock=restock, amount=amount)
        self._require_room("the return", events=2)
        self._record(event)
        self._record(RefundOwed(order_id=self.order_id, amount=amount, reason=RETURNED))


def _checked_payment(state: OrderState, amount: Decimal, currency: str) -> Decimal:
    """A payment is of exactly the order total, in the order's currency when the payer names
    one; an amount finer than that currency's minor unit is invalid, not merely unequal.
    Returns the amount with exactly the currency's minor-unit digits, as it is recorded."""
    amount = priced(amount, state.currency, "amount")
    total = state.total
    if amount != total.amount or currency not in ("", state.currency):
        raise BusinessRuleViolated(
            f"Payment amount {amount} {currency or state.currency} does not equal the order total {total}"
        )
    return amount


def _checked_merge(lines: tuple[OrderLine, ...], sku: str, quantity: int, unit_price: Decimal) -> tuple[OrderLine, ...]:
    """Merge a line in, enforcing the per-line and per-order limits."""
    existing = next((line for line in lines if line.sku == sku), None)
    if existing is None:
        if len(lines) >= MAX_LINES:
            raise BusinessRuleViolated(f"An order has at most {MAX_LINES} lines")
    else:
        if existing.unit_price != unit_price:
            raise BusinessRuleViolated(
                f"SKU {sku!r} is already on the order at {existing.unit_price}; add it at that price"
            )
        if existing.quantity + quantity > MAX_QUANTITY:
            raise BusinessRuleViolated(f"Quantity of SKU {sku!r} would exceed {MAX_QUANTITY}")
    merged = merge_line(lines, sku, quantity, unit_price)
    if sum((line.line_total for line in merged), Decimal("0")) >= MAX_TOTAL:
        raise BusinessRuleViolated("An order total must be less than 1,000,000,000,000")
    return merged
