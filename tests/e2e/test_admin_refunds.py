"""Who is owed money, in the admin: the order list's "refund owed" filter and column, and
refunds paid beside revenue in daily sales."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest
from django.test import Client

from orders.commands import CancelOrder, ConfirmOrder, CreateOrder, PayOrder, RefundOrder
from readmodels.models import OrderSummary
from tests.factories import CreateOrderFactory, total_of
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHANGELIST = "/admin/readmodels/ordersummary/"


def cancelled_after_payment() -> tuple[UUID, Decimal]:
    create: CreateOrder = CreateOrderFactory()
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id))
    handle(PayOrder(order_id=create.order_id, payment_id=f"p-{create.order_id}", amount=total_of(create)))
    handle(CancelOrder(order_id=create.order_id, reason="asked"))
    return create.order_id, total_of(create)


def number(order_id: UUID) -> str:
    return str(OrderSummary.objects.get(order_id=order_id).order_number)


def test_the_order_list_filters_and_shows_who_is_owed(staff: Client) -> None:
    owing, total = cancelled_after_payment()
    paid_back, paid_total = cancelled_after_payment()
    handle(RefundOrder(order_id=paid_back, refund_id="rf-1", amount=paid_total))
    untouched = CreateOrderFactory()
    handle(untouched)

    owed = staff.get(CHANGELIST, {"refund_owed": "yes"}).content.decode()
    assert number(owing) in owed
    assert f"{total} EUR" in owed
    assert number(paid_back) not in owed
    assert number(untouched.order_id) not in owed
    assert "refund owed" in owed  # the filter's title and the column
    nothing = staff.get(CHANGELIST, {"refund_owed": "no"}).content.decode()
    assert number(paid_back) in nothing
    assert number(untouched.order_id) in nothing
    assert number(owing) not in nothing

    sales = staff.get("/admin/readmodels/dailysales/").content.decode()
    assert "refunds paid" in sales.lower()
    assert str(paid_total) in sales
