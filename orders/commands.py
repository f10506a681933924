"""Commands: requests to change exactly one order, named in the imperative."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar
from uuid import UUID, uuid4

from orders.addresses import Address, PaymentMethod, personal_address_fields
from orders.events import ReturnedLine
from writeside.commands import Command

# What a command on one order loads first (writeside.commands.Command.loads): the order's stream.
LOADS_ORDER = ("order", "order_id")


@dataclass(frozen=True, kw_only=True)
class LineItem:
    """A requested order line, validated when the aggregate turns it into an OrderLine."""

    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, kw_only=True)
class CreateOrder(Command):
    """Place a new order. The id is chosen by the caller so a retry names the same order."""

    personal_fields: ClassVar[tuple[str, ...]] = (
        "customer_email",
        *personal_address_fields("shipping_address", "billing_address"),
    )
    data_subject: ClassVar[str] = "customer_id"

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID = field(default_factory=uuid4, metadata={"fingerprint": False})
    customer_id: str
    currency: str
    items: tuple[LineItem, ...]
    customer_email: str = ""
    # Counted in the fingerprint only when given: a retry of a command recorded before they
    # existed still matches its first answer.
    shipping_address: Address | None = field(default=None, metadata={"fingerprint": "when_given"})
    # None: bill the shipping address.
    billing_address: Address | None = field(default=None, metadata={"fingerprint": "when_given"})
    payment_method: PaymentMethod | None = field(default=None, metadata={"fingerprint": "when_given"})


@dataclass(frozen=True, kw_only=True)
class AddOrderItem(Command):
    """Add quantity of a SKU to a pending order."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, kw_only=True)
class RemoveOrderItem(Command):
    """Take a SKU's line off a pending order."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    sku: str


@dataclass(frozen=True, kw_only=True)
class ConfirmOrder(Command):
    """Freeze the order's lines."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class MarkStockReserved(Command):
    """Record that stock is reserved for every tracked line (sent by the fulfilment process)."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class PayOrder(Command):
    """Record payment of exactly the order total (in the order's currency, when named); on a
    cancelled order, the payment is recorded and owed back."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    payment_id: str
    amount: Decimal
    # Named by payment providers (integration/inbound.py); the API's body has none. Out of the
    # fingerprint so API commands recorded before it existed keep their fingerprints.
    currency: str = field(default="", metadata={"fingerprint": False})


@dataclass(frozen=True, kw_only=True)
class ShipOrder(Command):
    """Hand a paid order to a carrier."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    tracking_number: str
    carrier: str = ""


@dataclass(frozen=True, kw_only=True)
class DeliverOrder(Command):
    """Record that a shipped order arrived."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class ChangeShippingAddress(Command):
    """Send an order that has not shipped to another address."""

    # Whose address it is is known only once the order is loaded (no data_subject): the
    # fingerprint is keyed with the key of the order's customer (writeside.bus.loaded_subject).
    personal_fields: ClassVar[tuple[str, ...]] = personal_address_fields("shipping_address")

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    shipping_address: Address


@dataclass(frozen=True, kw_only=True)
class ForgetCustomer(Command):
    """Erase the customer's personal data (the right to erasure)."""

    # A retry forgets what the customer brought since (a new order) too: forgetting is
    # naturally idempotent, and the customer must be forgotten when it answers.
    reruns_on_retry: ClassVar[bool] = True
    customer_id: str


@dataclass(frozen=True, kw_only=True)
class CancelOrder(Command):
    """Call off an order that has not shipped."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class CancelUnpaidOrder(Command):
    """Call off a confirmed order whose payment never came (sent when its payment deadline
    passes); refused once the order is paid, so a payment that commits first wins."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class RefundOrder(Command):
    """Record money paid back to the customer (at most what the order owes); the same
    `refund_id` again changes nothing."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    refund_id: str
    amount: Decimal
    # Named by payment providers (integration/inbound.py); the API's body has none.
    currency: str = ""


@dataclass(frozen=True, kw_only=True)
class ReturnOrder(Command):
    """Take back some or all of a delivered order's goods, owing their value back; with
    `restock`, registered SKUs go back on hand."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_ORDER
    order_id: UUID
    lines: tuple[ReturnedLine, ...]
    reason: str
    restock: bool
