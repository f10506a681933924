"""factory-boy factories for commands, product commands and users with permissions, and recorded
events as the log hands them to projections (and the in-memory unit of work records them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import factory
from django.contrib.auth.models import Permission, User
from knox.models import AuthToken

from eventlog.recorded import RecordedEvent
from eventlog.serialization import registry
from inventory.commands import AdjustStock, ReceiveStock, RegisterProduct
from orders.addresses import Address
from orders.commands import (
    AddOrderItem,
    CancelOrder,
    ChangeShippingAddress,
    ConfirmOrder,
    CreateOrder,
    DeliverOrder,
    LineItem,
    PayOrder,
    ShipOrder,
)
from orders.events import OrderItemAdded
from readmodels import order_numbers
from readmodels.models import OrderSummary


class LineItemFactory(factory.Factory):
    class Meta:
        model = LineItem

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    quantity = factory.Faker("pyint", min_value=1, max_value=5)
    unit_price = factory.Iterator([Decimal("9.99"), Decimal("4.50"), Decimal("120.00"), Decimal("0.99")])


class AddressFactory(factory.Factory):
    class Meta:
        model = Address

    name = factory.Faker("name")
    line1 = factory.Faker("street_address")
    postal_code = factory.Faker("postcode", locale="de_DE")
    city = factory.Faker("city", locale="de_DE")
    country = "DE"


class CreateOrderFactory(factory.Factory):
    class Meta:
        model = CreateOrder

    order_id = factory.LazyFunction(uuid4)
    customer_id = factory.Sequence(lambda n: f"c-{n % 50}")
    currency = "EUR"
    items = factory.LazyFunction(lambda: tuple(LineItemFactory.build_batch(2)))


class AddOrderItemFactory(factory.Factory):
    class Meta:
        model = AddOrderItem

    sku = factory.Sequence(lambda n: f"ADD-{n}")
    quantity = 1
    unit_price = Decimal("5.00")


class OrderItemAddedFactory(factory.Factory):
    """An event to append to the store directly, below the command bus."""

    class Meta:
        model = OrderItemAdded

    order_id = factory.LazyFunction(uuid4)
    sku = factory.Sequence(lambda n: f"EV-{n}")
    quantity = 1
    unit_price = Decimal("1.00")


class ConfirmOrderFactory(factory.Factory):
    class Meta:
        model = ConfirmOrder


class PayOrderFactory(factory.Factory):
    class Meta:
        model = PayOrder

    payment_id = factory.Sequence(lambda n: f"pay-{n}")


class ShipOrderFactory(factory.Factory):
    class Meta:
        model = ShipOrder

    tracking_number = factory.Sequence(lambda n: f"TRK-{n}")
    carrier = "DHL"


class DeliverOrderFactory(factory.Factory):
    class Meta:
        model = DeliverOrder


class ChangeShippingAddressFactory(factory.Factory):
    class Meta:
        model = ChangeShippingAddress

    shipping_address = factory.SubFactory(AddressFactory)


class CancelOrderFactory(factory.Factory):
    class Meta:
        model = CancelOrder

    reason = "customer asked"


class RegisterProductFactory(factory.Factory):
    class Meta:
        model = RegisterProduct

    sku = factory.Sequence(lambda n: f"PRODUCT-{n}")
    name = factory.LazyAttribute(lambda command: f"Product {command.sku}")
    price = Decimal("5.00")


class ReceiveStockFactory(factory.Factory):
    class Meta:
        model = ReceiveStock

    quantity = 10


class AdjustStockFactory(factory.Factory):
    class Meta:
        model = AdjustStock

    quantity_delta = -1
    reason = "damaged"


def total_of(command: CreateOrder) -> Decimal:
    """The total of a CreateOrder's lines."""
    return sum((item.quantity * item.unit_price for item in command.items), Decimal("0"))


def recorded_event(
    event: Any,
    *,
    stream_id: str,
    stream_type: str,
    version: int,
    position: int,
    recorded_at: datetime,
    metadata: dict[str, Any] | None = None,
) -> RecordedEvent:
    """A domain event as the log hands it to projections, encoded as it would be stored."""
    event_type, schema_version, data = registry.encode(event)
    return RecordedEvent(
        position=position,
        event_id=uuid4(),
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        event_type=event_type,
        schema_version=schema_version,
        recorded_at=recorded_at,
        metadata=metadata or {},
        data=data,
        event=event,
    )


PASSWORD = "pw"


def _grant(user: User, create: bool, names: list[str] | None, **kwargs: Any) -> None:
    for name in names or ():
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class UserFactory(factory.django.DjangoModelFactory):
    """A user who signs in with PASSWORD; `permissions` lists "app_label.codename" names."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)
    permissions = factory.PostGeneration(_grant)


class StaffUserFactory(UserFactory):
    """A user who may sign in to the admin (with the permissions given)."""

    is_staff = True


class SuperuserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class OrderSummaryRowFactory(factory.django.DjangoModelFactory):
    """A list row as the `orders` projection writes it, without the order behind it: for
    lists too long to place order by order (build_batch, then bulk_create). `created_at`
    grows by a second a row; `search_text` holds the number, customer and `word`."""

    class Meta:
        model = OrderSummary

    class Params:
        word = "plain"

    order_id = factory.LazyFunction(uuid4)
    # The numbers' one form, from a position no test's log reaches (the list's numbers are unique).
    order_number = factory.Sequence(lambda n: order_numbers.order_number(9_000_000 + n))
    customer_id = factory.Sequence(lambda n: f"c-row-{n}")
    status = "PENDING"
    item_count = 1
    total_amount = Decimal("9.99")
    currency = "EUR"
    created_at = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n))
    updated_at = factory.SelfAttribute("created_at")
    version = 1
    search_text = factory.LazyAttribute(lambda row: f"{row.order_number} {row.customer_id} {row.word}".casefold())


def token_for(user: User) -> str:
    """A new API token for `user`, as POST /api/auth/token/ would issue it."""
    _, token = AuthToken.objects.create(user=user)
    return str(token)


class InboundEventFactory(factory.DictFactory):
    """A partner's CloudEvent for the inbound queue (docs/events.md); pass `type` and `data`."""

    specversion = "1.0"
    id = factory.LazyFunction(lambda: str(uuid4()))
    source = "/payments"
    type = "payment.captured.v1"
    time = "2026-01-01T12:00:00Z"
    datacontenttype = "application/json"
    data = factory.LazyFunction(dict)


class DeadLetterFactory(factory.django.DjangoModelFactory):
    """A projection's dead letter (resolved unless told); its times are set after creation
    (`last_failed_at` is the save's own moment)."""

    class Meta:
        model = "projector.DeadLetter"

    projection = "orders"
    position = factory.Sequence(lambda n: 1_000_000 + n)
    event_id = factory.LazyFunction(uuid4)
    event_type = "OrderConfirmed"
    stream_id = factory.LazyFunction(lambda: str(uuid4()))
    status = "resolved"
    attempts = 1
    error = "ValueError: boom"


class NotificationFactory(factory.django.DjangoModelFactory):
    """An email the notifications projection owes, sent to a customer unless told otherwise."""

    class Meta:
        model = "notifications.Notification"

    event_id = factory.LazyFunction(uuid4)
    kind = "order_confirmed"
    order_id = factory.LazyFunction(uuid4)
    order_version = 2
    position = factory.Sequence(lambda n: 2_000_000 + n)
    status = "sent"
    recipient = "ada@example.com"
    subject = "Your order #1 is confirmed"
    attempts = 1
    next_attempt_at = factory.LazyFunction(lambda: datetime.now(UTC))
    occurred_at = factory.LazyFunction(lambda: datetime.now(UTC))
    sent_at = factory.LazyFunction(lambda: datetime.now(UTC))
