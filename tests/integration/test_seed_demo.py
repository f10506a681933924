"""The demo seeder drives real commands through the bus, and the shop it makes looks like
one: named customers with e-mails and addresses, products with stock, orders over the
whole month in every state, some cancelled with money owed back. It appends through the
store the product runs, under its append lock, with the database's clock set back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Max, Min
from django.utils import timezone

from eventlog.models import StoredEvent
from eventlog.store import APPEND_LOCK_KEY
from readmodels.models import DailySales, OrderDetail, OrderSummary, ProductStock
from tests.support.concurrency import in_thread
from tests.support.verifying import CLEAN, seed_demo, verify
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
EVERY_STATE = {"PENDING", "CONFIRMED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"}


def test_seed_demo_creates_orders_once_and_an_admin() -> None:
    seed_demo(orders=12, seed=7, admin=True, if_empty=True)
    created = StoredEvent.objects.filter(event_type="OrderCreated").count()
    total = StoredEvent.objects.count()
    assert created == 12
    assert {"OrderConfirmed", "OrderPaid", "OrderShipped"} <= set(
        StoredEvent.objects.values_list("event_type", flat=True)
    )
    assert get_user_model().objects.get(username="admin").is_superuser
    seed_demo(orders=12, if_empty=True)
    assert StoredEvent.objects.count() == total


def test_the_demo_shop_spans_the_month_in_every_state_with_people_and_stock() -> None:
    """`make seed`'s shape: 40 orders."""
    started = timezone.now()
    seed_demo(orders=40, seed=42)
    assert set(OrderSummary.objects.values_list("status", flat=True)) == EVERY_STATE
    placed = OrderSummary.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    assert placed["first"] < started - timedelta(days=20)
    assert placed["last"] > started - timedelta(days=2)
    assert placed["last"] <= started
    # Revenue on many days of the month, not one bar.
    assert DailySales.objects.filter(orders_paid__gt=0).values("day").distinct().count() >= 10
    # The log's order: recorded_at grows with position, as it does live.
    stamps = list(StoredEvent.objects.order_by("position").values_list("recorded_at", flat=True))
    assert stamps == sorted(stamps)
    for detail in OrderDetail.objects.all():
        assert detail.customer_email.endswith("@example.com")
        address = detail.shipping_address or {}
        assert address["name"]
        assert address["city"]
        assert detail.payment_method
    assert OrderDetail.objects.filter(status="CANCELLED", refund_due__gt=0).exists()
    assert OrderDetail.objects.filter(refunded__gt=0).exists()
    assert StoredEvent.objects.filter(event_type="OrderReturned").exists()
    assert StoredEvent.objects.filter(event_type="RefundPaid").exists()
    stock = ProductStock.objects.all()
    assert stock.count() >= 10
    assert all(product.name and product.on_hand > 0 for product in stock)
    assert ProductStock.objects.filter(reserved__gt=0).exists()  # paid, not shipped


def test_the_seed_appends_under_the_stores_append_lock_and_still_backdates() -> None:
    """Seeding while a worker projects: the seed appends through the store the product runs
    (settings.EVENT_STORE), so no append of it commits while another holds the append lock
    (eventlog/postgres.py), and a projector never finds an event committed below a position
    it has read past. Its events still land on the month's days (demo/clock.py)."""
    assert settings.EVENT_STORE == "eventlog.postgres.PostgresEventStore"
    database = connections["default"]
    holder = database.get_new_connection(database.get_connection_params())
    holder.autocommit = False
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])
        mine = cursor.fetchone()[0]
    errors: list[BaseException] = []
    seeding = in_thread(lambda: seed_demo(orders=6, seed=3, days=5), errors)
    try:

        def seed_waits_for_the_lock() -> bool:
            with holder.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> %s", [mine]
                )
                return bool(cursor.fetchone()[0])

        eventually(seed_waits_for_the_lock, message="the seed's first append to wait for the append lock")
        assert not StoredEvent.objects.exists()
    finally:
        holder.rollback()  # the lock goes with the transaction
        holder.close()
        seeding.join(120)
    assert not seeding.is_alive()
    assert not errors
    stamps = list(StoredEvent.objects.order_by("position").values_list("recorded_at", flat=True))
    assert stamps == sorted(stamps)
    assert stamps[0] < timezone.now() - timedelta(days=3)  # the database's clock was set back
    assert verify() == (0, CLEAN)
