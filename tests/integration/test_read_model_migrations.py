"""Read-model migrations on PostgreSQL: rows projected before a migration come out of it as
the new code would have written them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from notifications.models import Notification
from orders.commands import ConfirmOrder
from projector.loop import read_database
from readmodels.models import OrderDetail, OrderSummary, SearchPosting, SearchWord
from tests.factories import AddressFactory, CreateOrderFactory
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BEFORE_COUNT = ("readmodels", "0005_wide_running_sums")
BEFORE_SEARCH = ("readmodels", "0008_orderdetail_addresses_refund")


def migrate(target: list[tuple[str, str]] | None = None) -> Any:
    """Migrate the read database to `target` (every app's latest if None); the apps at it."""
    executor = MigrationExecutor(connections[read_database()])
    targets = target or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def detail_row(model: Any, events: int) -> Any:
    """An OrderDetail row as the previous release wrote it: a timeline of every event."""
    now = datetime.now(UTC)
    timeline = [
        {"event_type": "OrderItemAdded", "occurred_at": now.isoformat(), "description": "Added", "version": version}
        for version in range(1, events + 1)
    ]
    order_id = uuid4()
    return model.objects.using(read_database()).create(
        order_id=order_id,
        order_number=f"ORD-{order_id.hex[:7]}",
        customer_id="c-1",
        status="PENDING",
        item_count=1,
        total_amount="1.00",
        currency="EUR",
        lines=[],
        timeline=timeline,
        created_at=now,
        updated_at=now,
        version=events,
    )


def test_timelines_are_counted_and_trimmed_to_the_latest_entries(settings: Any) -> None:
    settings.ORDER_TIMELINE_ENTRIES = 50
    old = migrate([BEFORE_COUNT]).get_model("readmodels", "OrderDetail")
    try:
        long, short = detail_row(old, 120), detail_row(old, 7)
    finally:
        migrate()
    long_now = OrderDetail.objects.get(order_id=long.order_id)
    assert long_now.timeline_count == 120
    assert [entry["version"] for entry in long_now.timeline] == list(range(71, 121))
    short_now = OrderDetail.objects.get(order_id=short.order_id)
    assert (short_now.timeline_count, short_now.timeline) == (7, short.timeline)


def test_orders_projected_before_the_search_get_their_search_text_and_index(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    create = CreateOrderFactory(customer_email="Ada@Example.com", shipping_address=AddressFactory(city="Köln"))
    handle(create)
    projected = OrderSummary.objects.get(order_id=create.order_id).search_text
    migrate([BEFORE_SEARCH])  # drops the column and the index
    migrate()
    assert OrderSummary.objects.get(order_id=create.order_id).search_text == projected
    assert "ada@example.com" in projected
    assert "köln" in projected
    with connections[read_database()].cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'summary_search_trgm_idx'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]


def test_orders_projected_before_the_vocabulary_get_their_words(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    creates = [CreateOrderFactory(shipping_address=AddressFactory(name="Ada Lovelace")) for _ in range(3)]
    for create in creates:
        handle(create)
    words = set(SearchPosting.objects.values_list("order_id", "word"))
    assert {word for _, word in words} >= {"ada", "lovelace"}
    migrate([("readmodels", "0016_search_indexes")])  # drops both tables
    migrate()
    assert set(SearchPosting.objects.values_list("order_id", "word")) == words
    assert set(SearchWord.objects.values_list("word", flat=True)) == {word for _, word in words}
    with connections[read_database()].cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'search_word_trgm_idx'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]


def test_orders_whose_words_held_their_whole_number_get_its_digits(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    for _ in range(3):
        handle(CreateOrderFactory())
    words = set(SearchPosting.objects.values_list("order_id", "word"))
    numbers = {(row.order_id, row.order_number.casefold()) for row in OrderSummary.objects.all()}
    migrate([("readmodels", "0018_search_postings_key")])  # the words as that release wrote them
    assert numbers <= set(SearchPosting.objects.values_list("order_id", "word"))
    assert not words <= set(SearchPosting.objects.values_list("order_id", "word"))
    migrate()
    assert set(SearchPosting.objects.values_list("order_id", "word")) == words
    assert set(SearchWord.objects.values_list("word", flat=True)) == {word for _, word in words}
    assert {number[len("ord-") :] for _, number in numbers} <= {word for _, word in words}


def test_orders_projected_before_list_rows_named_them_get_the_name_and_email(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    named = CreateOrderFactory(customer_email="ada@example.com", shipping_address=AddressFactory(name="Ada L."))
    anonymous = CreateOrderFactory(customer_email="", shipping_address=None)
    handle(named)
    handle(anonymous)
    migrate([("readmodels", "0010_forgottencustomer")])  # drops the columns
    migrate()
    rows = OrderSummary.objects.in_bulk([named.order_id, anonymous.order_id])
    assert (rows[named.order_id].customer_name, rows[named.order_id].customer_email) == ("Ada L.", "ada@example.com")
    assert (rows[anonymous.order_id].customer_name, rows[anonymous.order_id].customer_email) == ("", "")


def test_emails_owed_before_they_named_their_customer_get_it_from_the_order_list_or_the_log(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    listed, unlisted = CreateOrderFactory(customer_id="c-listed"), CreateOrderFactory(customer_id="c-unlisted")
    for create in (listed, unlisted):
        handle(create)
        handle(ConfirmOrder(order_id=create.order_id))
    migrate([("notifications", "0002_payload_index")])  # drops the column and its index
    # The orders projection behind the notifications one: the order list lacks an order yet.
    OrderSummary.objects.using(read_database()).filter(order_id=unlisted.order_id).delete()
    migrate()
    owed = Notification.objects.using(read_database()).filter(order_id__in=[listed.order_id, unlisted.order_id])
    assert dict(owed.values_list("order_id", "customer_id")) == {
        listed.order_id: "c-listed",
        unlisted.order_id: "c-unlisted",
    }
    with connections[read_database()].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'notification_customer_idx'")
        assert cursor.fetchone() is not None
