"""A log holding OrderShipped in schema 1 (no carrier), OrderCreated in schema 1 (no
addresses) and the current schemas: stored rows stay as they were written, and every reader
(aggregate, rebuild, history, as_of, the detail at a version) sees the current shape."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from django.utils import timezone

from eventlog.buckets import bucket_of
from eventlog.models import StoredEvent
from orders.commands import (
    CancelOrder,
    ChangeShippingAddress,
    ConfirmOrder,
    CreateOrder,
    DeliverOrder,
    LineItem,
    PayOrder,
    ShipOrder,
)
from projector.loop import read_database
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderDetail
from readmodels.selectors.history import order_as_of, order_at_version, order_history
from tests.factories import AddressFactory
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def paid_order() -> UUID:
    order_id = uuid4()
    handle(
        CreateOrder(
            order_id=order_id,
            customer_id="c-1",
            currency="EUR",
            items=(LineItem(sku="A", quantity=2, unit_price=Decimal("9.99")),),
        )
    )
    handle(ConfirmOrder(order_id=order_id))
    handle(PayOrder(order_id=order_id, payment_id="p-1", amount=Decimal("19.98")))
    return order_id


def ship_the_old_way(order_id: UUID) -> StoredEvent:
    """Store OrderShipped exactly as the schema-1 code wrote it: no carrier field at all."""
    return StoredEvent.objects.create(
        stream_id=str(order_id),
        stream_type="order",
        bucket=bucket_of(str(order_id)),
        version=4,
        event_type="OrderShipped",
        schema_version=1,
        data={"order_id": str(order_id), "tracking_number": "OLD-1"},
        metadata={"source": "schema-1 release"},
        recorded_at=timezone.now(),
    )


def test_old_and_new_shipments_read_alike_everywhere_and_the_old_row_is_untouched() -> None:
    old, new = paid_order(), paid_order()
    legacy = ship_the_old_way(old)
    handle(ShipOrder(order_id=new, tracking_number="NEW-1", carrier="UPS"))
    stored_new = StoredEvent.objects.get(stream_id=str(new), version=4)
    assert (stored_new.schema_version, stored_new.data["carrier"]) == (2, "UPS")

    rebuild_by_name([])
    details = {row.order_id: row for row in OrderDetail.objects.using(read_database()).filter(order_id__in=[old, new])}
    assert (details[old].status, details[old].carrier, details[old].tracking_number) == ("SHIPPED", "unknown", "OLD-1")
    assert (details[new].status, details[new].carrier) == ("SHIPPED", "UPS")

    history = order_history(old, limit=100)
    assert history is not None
    assert history.results[-1].data == {"order_id": str(old), "tracking_number": "OLD-1", "carrier": "unknown"}
    then = order_as_of(old, timezone.now() + timedelta(seconds=1))
    assert then is not None
    assert (then.carrier, then.status) == ("unknown", "SHIPPED")

    handle(DeliverOrder(order_id=old))  # the aggregate replays the schema-1 event too
    assert StoredEvent.objects.filter(stream_id=str(old)).count() == 5

    legacy.refresh_from_db()
    assert (legacy.schema_version, legacy.data) == (1, {"order_id": str(old), "tracking_number": "OLD-1"})


def place_the_old_way(order_id: UUID) -> StoredEvent:
    """Store OrderCreated exactly as the schema-1 code wrote it: no addresses, no payment method."""
    return StoredEvent.objects.create(
        stream_id=str(order_id),
        stream_type="order",
        bucket=bucket_of(str(order_id)),
        version=1,
        event_type="OrderCreated",
        schema_version=1,
        data={
            "order_id": str(order_id),
            "customer_id": "c-old",
            "currency": "EUR",
            "lines": [{"sku": "A", "quantity": 2, "unit_price": "9.99"}],
            "customer_email": "old@example.com",
        },
        metadata={"source": "schema-1 release"},
        recorded_at=timezone.now(),
    )


def test_a_schema_1_order_loads_projects_and_takes_an_address_and_its_row_is_untouched() -> None:
    old = uuid4()
    legacy = place_the_old_way(old)
    handle(ConfirmOrder(order_id=old))  # the aggregate replays the schema-1 creation
    handle(PayOrder(order_id=old, payment_id="p-1", amount=Decimal("19.98")))
    home = AddressFactory()
    handle(ChangeShippingAddress(order_id=old, shipping_address=home))
    handle(CancelOrder(order_id=old, reason="asked"))

    rebuild_by_name([])
    row = OrderDetail.objects.using(read_database()).get(order_id=old)
    assert (row.status, row.customer_email, row.billing_address, row.payment_method) == (
        "CANCELLED",
        "old@example.com",
        None,
        "",
    )
    assert row.shipping_address is not None
    assert (row.shipping_address["city"], row.refund_due) == (home.city, Decimal("19.98"))
    then = order_at_version(old, 1)
    assert then is not None
    assert (then.shipping_address, then.billing_address, then.payment_method, then.customer_email) == (
        None,
        None,
        None,
        "old@example.com",
    )
    history = order_history(old, limit=100)
    assert history is not None
    assert history.results[0].data["shipping_address"] is None

    legacy.refresh_from_db()
    assert (legacy.schema_version, set(legacy.data)) == (
        1,
        {"order_id", "customer_id", "currency", "lines", "customer_email"},
    )
