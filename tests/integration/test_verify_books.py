"""`manage.py verify`'s books checks on PostgreSQL: a shop whose stock and money balance
verifies with exit 0; a discrepancy planted in the products or daily sales read model (on
hand, reserved, available, a reservation left behind a shipment, restocked returns, revenue,
what cancellations owed back, refunds paid, a refund owed that the list of who is owed misses)
is named and exits 1; a read model still catching up (or a consumption the
products projection has not applied) is not reported; archived orders still count."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.db import transaction
from django.utils import timezone

from archive.procedure import archive_due
from eventlog import cold
from eventlog.models import StoredEvent
from eventlog.store import event_store
from fulfilment.manager import FulfilmentProcessManager
from fulfilment.models import FulfilmentProcess
from inventory.commands import AdjustStock, ReceiveStock, RegisterProduct, ReserveStock
from inventory.events import product_stream
from orders.commands import (
    CancelOrder,
    ConfirmOrder,
    CreateOrder,
    DeliverOrder,
    LineItem,
    PayOrder,
    RefundOrder,
    ReturnOrder,
    ShipOrder,
)
from orders.events import RefundPaid, ReturnedLine
from projector.loop import Projector, all_partitions, read_database
from projector.running import run_partition
from readmodels.models import DailySales, OrderDetail, OrderSummary, ProductStock
from readmodels.selectors.orders import order_summary_list
from tests.support.verifying import CLEAN, verify_checks
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

PRICE = Decimal("10.00")


@pytest.fixture(autouse=True)
def inline(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True


def product(sku: str, units: int) -> None:
    handle(RegisterProduct(sku=sku, name=sku, price=PRICE))
    handle(ReceiveStock(sku=sku, quantity=units))


def order(sku: str, units: int, *, pay: bool = True) -> UUID:
    order_id = uuid4()
    line = LineItem(sku=sku, quantity=units, unit_price=PRICE)
    handle(CreateOrder(order_id=order_id, customer_id="c-books", currency="EUR", items=(line,)))
    handle(ConfirmOrder(order_id=order_id))
    if pay:
        handle(PayOrder(order_id=order_id, payment_id=f"p-{order_id}", amount=PRICE * units))
    return order_id


@pytest.fixture
def shop() -> dict[str, UUID]:
    """Stock received, adjusted, reserved, shipped; orders paid, shipped and cancelled."""
    product("MUG", 20)
    product("TEE", 5)
    handle(AdjustStock(sku="MUG", quantity_delta=-2, reason="damaged"))
    shipped, held, cancelled = order("MUG", 3), order("MUG", 4), order("TEE", 2)
    unpaid = order("TEE", 1, pay=False)
    handle(ShipOrder(order_id=shipped, tracking_number="T-1"))
    handle(CancelOrder(order_id=cancelled, reason="changed their mind"))
    return {"shipped": shipped, "held": held, "cancelled": cancelled, "unpaid": unpaid}


def stock(sku: str) -> tuple[int, int, int]:
    row = ProductStock.objects.using(read_database()).get(sku=sku)
    return row.on_hand, row.reserved, row.available


def test_a_shop_whose_books_balance_verifies(shop: dict[str, UUID]) -> None:
    assert stock("MUG") == (15, 4, 11)  # 20 received - 2 written off - 3 shipped; 4 held
    assert stock("TEE") == (5, 1, 4)
    assert verify_checks("stock", "reservations", "sales") == (0, CLEAN)


def test_stock_on_hand_that_does_not_balance_is_named(shop: dict[str, UUID]) -> None:
    ProductStock.objects.using(read_database()).filter(sku="MUG").update(on_hand=18, available=14)

    status, printed = verify_checks("stock")

    assert status == 1
    subject = "[stock] product MUG (v6)"
    assert f"{subject}: on_hand is 18; its movements make 15 (adjusted -2 + consumed -3 + received 20)" in printed
    assert f"{subject}: available is 14; on hand less reserved is 11" in printed
    assert "TEE" not in printed


def test_stock_reserved_that_does_not_balance_is_named(shop: dict[str, UUID]) -> None:
    ProductStock.objects.using(read_database()).filter(sku="TEE").update(reserved=3, available=2)

    status, printed = verify_checks("stock")

    assert status == 1
    assert "[stock] product TEE (v5): reserved is 3; its 1 open reservation(s) hold 1" in printed
    assert "[stock] product TEE (v5): available is 2; on hand less reserved is 4" in printed


def test_a_reservation_left_behind_a_shipment_is_named(shop: dict[str, UUID]) -> None:
    # The process says the order shipped, yet the product still holds its units: stock was
    # never consumed (as if the process manager's commands had been lost).
    FulfilmentProcess.objects.filter(order_id=shop["held"]).update(status="SHIPPED")

    status, printed = verify_checks("stock", "reservations")

    assert (status, printed) == (
        1,
        f"[reservations] product MUG: 4 unit(s) still reserved for order {shop['held']}, whose fulfilment is SHIPPED\n",
    )


def test_revenue_and_refunds_owed_that_do_not_balance_are_named(shop: dict[str, UUID]) -> None:
    using = read_database()
    row = DailySales.objects.using(using).get(currency="EUR")
    assert (row.orders_paid, row.revenue, row.refunded) == (3, Decimal("90.00"), Decimal("20.00"))
    DailySales.objects.using(using).filter(pk=row.pk).update(revenue=Decimal("100.00"), refunded=Decimal("0"))

    status, printed = verify_checks("sales")

    assert status == 1
    assert f"[sales] {row.day}/EUR: revenue is 100.000; the day's events say 90.00" in printed
    assert f"[sales] {row.day}/EUR: refunded is 0.000; the day's events say 20.00" in printed
    assert "orders_paid" not in printed


def test_a_missing_day_is_named(shop: dict[str, UUID]) -> None:
    using = read_database()
    day = DailySales.objects.using(using).get(currency="EUR").day
    DailySales.objects.using(using).all().delete()

    status, printed = verify_checks("sales")

    assert status == 1
    assert f"[sales] {day}/EUR: revenue is missing; the day's events say 90.00" in printed


def test_read_models_still_catching_up_are_not_reported(shop: dict[str, UUID], settings: Any) -> None:
    settings.EVENT_SUBSCRIBERS = []  # nothing projects what follows: the read models fall behind
    handle(ReceiveStock(sku="MUG", quantity=7))
    handle(ReserveStock(sku="TEE", order_id=uuid4(), quantity=1))
    handle(PayOrder(order_id=shop["unpaid"], payment_id="p-late", amount=PRICE))
    assert event_store().stream_version(str(shop["unpaid"])) == 4
    assert stock("MUG") == (15, 4, 11)
    assert DailySales.objects.using(read_database()).get().orders_paid == 3

    assert verify_checks("stock", "reservations", "sales") == (0, CLEAN)


def test_a_shipment_consumed_but_not_yet_projected_is_not_reported(shop: dict[str, UUID], settings: Any) -> None:
    # The fulfilment process consumed the shipped order's stock (and says SHIPPED), but the
    # products projection has not applied the consumption: the row still shows the
    # reservation, and the stream's head no longer holds it.
    settings.EVENT_SUBSCRIBERS = []
    handle(ShipOrder(order_id=shop["held"], tracking_number="T-2"))
    fulfilment = Projector(FulfilmentProcessManager())
    for partition in all_partitions():
        fulfilment.catch_up(partition)
    assert FulfilmentProcess.objects.get(order_id=shop["held"]).status == "SHIPPED"
    assert event_store().read_stream(product_stream("MUG"))[-1].event_type == "StockConsumed"
    assert stock("MUG") == (15, 4, 11)

    assert verify_checks("stock", "reservations") == (0, CLEAN)


def test_archived_orders_still_count_in_their_days(shop: dict[str, UUID], settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    cold._cache.clear()
    handle(DeliverOrder(order_id=shop["shipped"]))
    archived = archive_due(now=timezone.now() + timedelta(days=10_000)).archived
    assert str(shop["shipped"]) in archived
    assert not StoredEvent.objects.filter(stream_id=str(shop["shipped"])).exists()

    assert verify_checks("stock", "reservations", "sales") == (0, CLEAN)
    row = DailySales.objects.using(read_database()).get()
    DailySales.objects.using(read_database()).filter(pk=row.pk).update(orders_paid=2)
    status, printed = verify_checks("sales")
    assert status == 1
    assert f"[sales] {row.day}/EUR: orders_paid is 2; the day's events say 3" in printed
    cold._cache.clear()


@pytest.fixture
def refunds(shop: dict[str, UUID]) -> dict[str, UUID]:
    """The shop's cancelled order paid back in part; a delivered order's goods returned and
    restocked, owed back in full."""
    handle(RefundOrder(order_id=shop["cancelled"], refund_id="r-1", amount=Decimal("5.00")))
    handle(DeliverOrder(order_id=shop["shipped"]))
    handle(
        ReturnOrder(
            order_id=shop["shipped"], lines=(ReturnedLine(sku="MUG", quantity=2),), reason="chipped", restock=True
        )
    )
    return shop


def test_refunds_and_returns_that_balance_verify(refunds: dict[str, UUID]) -> None:
    assert stock("MUG") == (17, 4, 13)  # two came back
    owed = {row.order_id: row.refund_due for row in order_summary_list(refund_due=True)}
    assert owed == {refunds["cancelled"]: Decimal("15.00"), refunds["shipped"]: Decimal("20.00")}
    assert verify_checks("stock", "reservations", "sales", "refunds") == (0, CLEAN)


def test_a_refund_owed_missing_from_the_list_is_named(refunds: dict[str, UUID]) -> None:
    using = read_database()
    OrderSummary.objects.using(using).filter(order_id=refunds["shipped"]).update(refund_due=Decimal("0.00"))
    OrderDetail.objects.using(using).filter(order_id=refunds["cancelled"]).update(refunded=Decimal("0.00"))

    status, printed = verify_checks("refunds")

    assert status == 1
    summary, detail = OrderSummary._meta.db_table, OrderDetail._meta.db_table
    owed = "refund_due is 0.000; it was owed 20.00 and paid back 0.00"
    assert f"[refunds] order {refunds['shipped']} (v8) in {summary}: {owed}" in printed
    assert (
        f"[refunds] order {refunds['cancelled']} (v7) in {detail}: refunded is 0.000; its refunds paid add up to 5.00"
        in printed
    )
    assert printed.count("[refunds]") == 2


def test_restocked_goods_and_refunds_paid_that_do_not_balance_are_named(refunds: dict[str, UUID]) -> None:
    using = read_database()
    ProductStock.objects.using(using).filter(sku="MUG").update(on_hand=15, available=11)
    row = DailySales.objects.using(using).get()
    DailySales.objects.using(using).filter(pk=row.pk).update(refunds_paid=Decimal("0"))

    status, printed = verify_checks("stock", "sales")

    assert status == 1
    movements = "adjusted -2 + consumed -3 + received 20 + restocked 2"
    assert f"[stock] product MUG (v7): on_hand is 15; its movements make 17 ({movements})" in printed
    assert f"[sales] {row.day}/EUR: refunds_paid is 0.000; the day's events say 5.00" in printed


def test_a_refund_paid_beyond_what_was_owed_is_named(shop: dict[str, UUID]) -> None:
    # The order refuses such a refund; one written to the log past it (by hand, by an old
    # release) is named though the read models agree with it.
    order_id, store = shop["unpaid"], event_store()
    with transaction.atomic():
        store.append(
            str(order_id),
            "order",
            store.stream_version(str(order_id)),
            [RefundPaid(order_id=order_id, refund_id="r-rogue", amount=Decimal("3.00"))],
        )
    for partition in all_partitions():
        while run_partition(partition):
            pass

    assert verify_checks("refunds") == (1, f"[refunds] order {order_id}: 3.00 was paid back of 0.00 owed\n")
