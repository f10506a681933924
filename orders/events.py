"""Domain events of the Order aggregate: immutable facts, past tense, carrying what changed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from kernel.errors import InvalidValue
from kernel.events import DomainEvent, check_text
from kernel.money import check_currency, check_price
from orders.addresses import Address, PaymentMethod, personal_address_fields

MAX_QUANTITY = 10_000
# What a shipment records when nobody said who carries it.
UNKNOWN_CARRIER = "unknown"


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidValue("quantity", "must be an integer")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidValue("quantity", f"must be between 1 and {MAX_QUANTITY}")


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    """One SKU on an order: how many, at what unit price."""

    sku: str
    quantity: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        check_text("sku", self.sku, 64)
        _check_quantity(self.quantity)
        check_price(self.unit_price)

    @property
    def line_total(self) -> Decimal:
        """quantity x unit_price."""
        return self.quantity * self.unit_price


@dataclass(frozen=True, kw_only=True)
class OrderEvent(DomainEvent):
    """An event of one order's stream."""

    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class OrderCreated(OrderEvent):
    """A customer placed an order with its first lines.

    Schema 2 added the addresses and the payment method; schema-1 events read with none of
    them (null), through the upcaster in orders/upcasters.py. The billing address is
    recorded as resolved (the shipping address when the customer named none).
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[tuple[str, ...]] = (
        "customer_email",
        *personal_address_fields("shipping_address", "billing_address"),
    )
    data_subject: ClassVar[str] = "customer_id"

    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    # Where to tell the customer about the order; "" when not given (and in events stored
    # before the field existed, which read with the default); None once forgotten.
    customer_email: str | None = ""
    shipping_address: Address | None = None
    billing_address: Address | None = None
    payment_method: PaymentMethod | None = None

    def __post_init__(self) -> None:
        check_text("customer_id", self.customer_id, 64)
        check_currency(self.currency)
        if not self.lines:
            raise InvalidValue("items", "an order is created with at least one line")
        for line in self.lines:  # each line checked its price; here, against the currency's decimals
            check_price(line.unit_price, currency=self.currency)
        if self.customer_email:
            check_email(self.customer_email)


def check_email(email: str) -> None:
    """Raise InvalidValue unless `email` looks like one address (the API validates strictly)."""
    local, at, domain = email.rpartition("@") if isinstance(email, str) else ("", "", "")
    if not (at and local and "." in domain) or len(email) > 254 or any(char.isspace() for char in email):
        raise InvalidValue("customer_email", "must be an email address")


@dataclass(frozen=True, kw_only=True)
class OrderItemAdded(OrderEvent):
    """Quantity of a SKU was added; if the SKU was on the order, its quantity grows."""

    sku: str
    quantity: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        check_text("sku", self.sku, 64)
        _check_quantity(self.quantity)
        check_price(self.unit_price)


@dataclass(frozen=True, kw_only=True)
class OrderItemRemoved(OrderEvent):
    """A SKU's line was taken off the order."""

    sku: str

    def __post_init__(self) -> None:
        check_text("sku", self.sku, 64)


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(OrderEvent):
    """The order's lines are final.

    `tracked_skus` are the lines whose SKU was a registered product at confirmation: the
    stock the fulfilment process must reserve before the order may be paid. Events stored
    before inventory existed have no such field and read as () (nothing to reserve).
    """

    tracked_skus: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OrderStockReserved(OrderEvent):
    """Stock is reserved for every tracked line: the order may now be paid."""


@dataclass(frozen=True, kw_only=True)
class OrderPaid(OrderEvent):
    """Payment of the order total was received."""

    payment_id: str
    amount: Decimal

    def __post_init__(self) -> None:
        check_text("payment_id", self.payment_id)
        check_price(self.amount, "amount")


@dataclass(frozen=True, kw_only=True)
class OrderShipped(OrderEvent):
    """The order left the warehouse with a carrier.

    Schema 2 made `carrier` required; schema-1 events, stored without one (or with an empty
    one), read as UNKNOWN_CARRIER through the upcaster in orders/upcasters.py.
    """

    schema_version: ClassVar[int] = 2

    tracking_number: str
    carrier: str

    def __post_init__(self) -> None:
        check_text("tracking_number", self.tracking_number)
        check_text("carrier", self.carrier, 64)


@dataclass(frozen=True, kw_only=True)
class OrderDelivered(OrderEvent):
    """The customer received the order."""


@dataclass(frozen=True, kw_only=True)
class ShippingAddressChanged(OrderEvent):
    """The order is to go to another address (the billing address stays).

    `customer_id` names whose address it is, so it is sealed with that customer's key; events
    stored before it existed got it from their order when their addresses were sealed
    (orders/migrations/0003).
    """

    personal_fields: ClassVar[tuple[str, ...]] = personal_address_fields("shipping_address")
    data_subject: ClassVar[str] = "customer_id"

    shipping_address: Address
    customer_id: str = ""


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(OrderEvent):
    """The order was called off, with the reason given.

    `refund_due` is what the customer paid and is owed back ("0.00" if nothing was paid).
    Schema 2 added it; schema-1 events read with None (not recorded), and readers derive it
    from the payment the stream holds before the cancellation.
    """

    schema_version: ClassVar[int] = 2

    reason: str
    refund_due: Decimal | None = None

    def __post_init__(self) -> None:
        check_text("reason", self.reason, 500)
        if self.refund_due is not None and self.refund_due < 0:
            raise InvalidValue("refund_due", "must not be negative")


@dataclass(frozen=True, kw_only=True)
class PaymentCapturedAfterCancellation(OrderEvent):
    """A payment of the order total was captured after the order was cancelled (it lost the
    race with the cancellation, e.g. the payment deadline's). The money was taken all the
    same: the order records the payment and owes its amount back; its status stays CANCELLED."""

    payment_id: str
    amount: Decimal

    def __post_init__(self) -> None:
        check_text("payment_id", self.payment_id)
        check_price(self.amount, "amount")


@dataclass(frozen=True, kw_only=True)
class ReturnedLine:
    """How many of one SKU on the order came back."""

    sku: str
    quantity: int

    def __post_init__(self) -> None:
        check_text("sku", self.sku, 64)
        _check_quantity(self.quantity)


@dataclass(frozen=True, kw_only=True)
class OrderReturned(OrderEvent):
    """Goods of a delivered order came back: `amount`, the value of the returned lines at the
    prices the customer paid, is owed back; `restock` says whether the goods go back on hand."""

    lines: tuple[ReturnedLine, ...]
    reason: str
    restock: bool
    amount: Decimal

    def __post_init__(self) -> None:
        if not self.lines:
            raise InvalidValue("lines", "a return names at least one line")
        check_text("reason", self.reason, 500)
        if not isinstance(self.restock, bool):
            raise InvalidValue("restock", "must be true or false")
        check_price(self.amount, "amount")


# Why an order came to owe money back (besides a payment captured after its cancellation,
# which is its own event).
CANCELLED_AFTER_PAYMENT = "cancelled_after_payment"
RETURNED = "returned"
REFUND_REASONS = (CANCELLED_AFTER_PAYMENT, RETURNED)


@dataclass(frozen=True, kw_only=True)
class RefundOwed(OrderEvent):
    """The order came to owe `amount` more, for `reason`: recorded right after the event that
    made it so (the cancellation of a paid order, a return), whose fold already counts it.

    It is a fact of its own so that it has its own place in the stream: partners learn of it
    as `backoffice.order.refund_due.v1` with a `sequence` of its own (docs/events.md)."""

    amount: Decimal
    reason: str

    def __post_init__(self) -> None:
        check_price(self.amount, "amount")
        if self.reason not in REFUND_REASONS:
            raise InvalidValue("reason", f"must be one of {', '.join(REFUND_REASONS)}")


@dataclass(frozen=True, kw_only=True)
class RefundPaid(OrderEvent):
    """The shop paid money back to the customer, at most what it owed; `refund_id` names the
    payout, so the same payout reported twice is recorded once."""

    refund_id: str
    amount: Decimal

    def __post_init__(self) -> None:
        check_text("refund_id", self.refund_id)
        check_price(self.amount, "amount")


@dataclass(frozen=True, kw_only=True)
class CustomerForgotten(DomainEvent):
    """The customer's personal data was erased: their key is deleted, so every copy sealed
    with it reads as None, and the read models scrub the plain copies of `order_ids`.

    Carries no personal data: the customer id (the back office's pseudonymous reference)
    and the ids of the customer's orders at that moment.
    """

    customer_id: str
    order_ids: tuple[UUID, ...] = ()


CUSTOMER_EVENTS: tuple[type[DomainEvent], ...] = (CustomerForgotten,)

ORDER_EVENTS: tuple[type[OrderEvent], ...] = (
    OrderCreated,
    OrderItemAdded,
    OrderItemRemoved,
    OrderConfirmed,
    OrderStockReserved,
    OrderPaid,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    ShippingAddressChanged,
    PaymentCapturedAfterCancellation,
    OrderReturned,
    RefundOwed,
    RefundPaid,
)
