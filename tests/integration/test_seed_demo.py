"""The demo seeder drives real commands through the bus, and the shop it makes looks like
one: named customers with e-mails and addresses, products with stock, orders over the
whole month in every state, some cancelled with money owed back."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Max, Min
from django.utils import timezone

from eventlog.models import StoredEvent
from readmodels.models import DailySales, OrderDetail, OrderSummary, ProductStock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
EVERY_STATE = {"PENDING", "CONFIRMED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED"}


def seed(**options: object) -> None:
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO(), **options)


def test_seed_demo_creates_orders_once_and_an_admin() -> None:
    seed(orders=12, seed=7, admin=True, if_empty=True)
    created = StoredEvent.objects.filter(event_type="OrderCreated").count()
    total = StoredEvent.objects.count()
    assert created == 12
    assert {"OrderConfirmed", "OrderPaid", "OrderShipped"} <= set(
        StoredEvent.objects.values_list("event_type", flat=True)
    )
    assert get_user_model().objects.get(username="admin").is_superuser
    seed(orders=12, if_empty=True)
    assert StoredEvent.objects.count() == total


def test_the_demo_shop_spans_the_month_in_every_state_with_people_and_stock() -> None:
    """`make seed`'s shape: 40 orders."""
    started = timezone.now()
    seed(orders=40, seed=42)
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
