"""Product names on order lines across two streams, on PostgreSQL with a real worker."""

from __future__ import annotations

import threading
from decimal import Decimal
from uuid import UUID

import pytest
from django.db import connections

from inventory.commands import RegisterProduct, RenameProduct
from orders.commands import CreateOrder, LineItem
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderDetail
from tests.support.convergence import converged
from tests.support.read_side import read_models
from tests.support.services import Service
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def place(*skus: str) -> UUID:
    command = CreateOrder(
        customer_id="c-1",
        currency="EUR",
        items=tuple(LineItem(sku=sku, quantity=1, unit_price=Decimal("2.50")) for sku in skus),
    )
    handle(command)
    return command.order_id


def names(order_id: UUID) -> dict[str, str | None]:
    return {line["sku"]: line["name"] for line in OrderDetail.objects.get(order_id=order_id).lines}


def test_a_rename_after_the_order_reaches_its_lines_and_a_rebuild_equals_live(worker: Service) -> None:
    handle(RegisterProduct(sku="HAMMER", name="Hammer", price=Decimal("2.50")))
    order_id = place("HAMMER", "NAIL", "LOOSE")
    eventually(converged, message="the order projected", log=worker.log)
    assert names(order_id) == {"HAMMER": "Hammer", "NAIL": None, "LOOSE": None}

    handle(RenameProduct(sku="HAMMER", name="Claw hammer"))
    handle(RegisterProduct(sku="NAIL", name="Nail", price=Decimal("0.10")))  # registered after the order
    eventually(converged, message="the names projected", log=worker.log)
    assert names(order_id) == {"HAMMER": "Claw hammer", "NAIL": "Nail", "LOOSE": None}

    live = read_models()
    rebuild_by_name(["orders"])
    assert read_models() == live


def test_renames_racing_new_orders_on_other_partitions_leave_every_line_current(worker: Service) -> None:
    handle(RegisterProduct(sku="RACE", name="name 0", price=Decimal("2.50")))
    errors: list[BaseException] = []
    orders: list[UUID] = []

    def rename() -> None:
        try:
            for turn in range(1, 31):
                handle(RenameProduct(sku="RACE", name=f"name {turn}"))
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connections to every database

    def buy() -> None:
        try:
            for _ in range(30):
                orders.append(place("RACE"))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connections to every database

    threads = [threading.Thread(target=rename), threading.Thread(target=buy), threading.Thread(target=buy)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    eventually(converged, timeout=60, message="everything projected", log=worker.log)
    assert {names(order_id)["RACE"] for order_id in orders} == {"name 30"}
