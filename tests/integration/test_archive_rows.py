"""The fast rebuild (`rebuild_projections --from-archive-rows`): archived orders' carried rows
restored, only the hot log replayed, and the same tables as the full replay and as live
projection, for hot and archived orders, orders whose customer was forgotten after archiving,
orders restored to the log, and products renamed since; a projection whose rows are not
carried in its current format is replayed in full instead; carried personal data is sealed."""

from __future__ import annotations

import gzip
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from archive.procedure import STEPS, archive_due
from archive.restoring import restore_stream
from eventlog import cold
from eventlog.models import ArchivedStream
from inventory.commands import RenameProduct
from orders.commands import ForgetCustomer
from projector.loop import read_database
from readmodels.models import OrderDetail, OrderSummary
from tests.factories import (
    ReceiveStockFactory,
    RegisterProductFactory,
)
from tests.support.carried_rows import EMAIL, LATER, NAMED_SKU, delivered_order, rebuilt, tables
from tests.support.read_side import ON_BOTH_DATABASES
from tests.support.workload import drive_orders
from writeside.bus import handle

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]


def shop() -> dict[str, UUID]:
    """A shop whose history is partly archived: orders hot and archived, an archived order's
    customer forgotten, an archived order restored, its product renamed after archiving."""
    handle(RegisterProductFactory(sku=NAMED_SKU, name="Before"))
    handle(ReceiveStockFactory(sku=NAMED_SKU, quantity=1000))  # tracked: orders reserve it
    drive_orders(10, seed=11)
    orders = {
        "kept": delivered_order("c-carried-kept"),
        "forgotten": delivered_order("c-carried-forgotten"),
        "restored": delivered_order("c-carried-restored"),
    }
    archived = {UUID(stream) for stream in archive_due(now=timezone.now() + LATER).archived}
    assert set(orders.values()) <= archived
    orders["hot"] = delivered_order("c-carried-hot")  # archived too late: stays in the log
    handle(ForgetCustomer(customer_id="c-carried-forgotten"))
    handle(RenameProduct(sku=NAMED_SKU, name="After"))
    restore_stream(str(orders["restored"]))
    cold._cache.clear()
    return orders


@ON_BOTH_DATABASES
def test_the_fast_rebuild_gives_the_full_replays_and_the_live_tables(vendor: str) -> None:
    assert connection.vendor == vendor
    orders = shop()
    live = tables()
    forgotten = OrderDetail.objects.using(read_database()).get(order_id=orders["forgotten"])
    assert forgotten.customer_email == ""  # the forgetting reached the live row
    assert OrderSummary.objects.using(read_database()).get(order_id=orders["kept"]).customer_email == EMAIL
    full, _ = rebuilt()
    assert full == live
    fast, steps = rebuilt("--from-archive-rows")
    assert "restoring archived rows" in steps
    assert "in full" not in steps  # orders and sales restored, products from the hot log alone
    assert fast == live
    lines = OrderDetail.objects.using(read_database()).get(order_id=orders["kept"]).lines
    assert {line["name"] for line in lines if line["sku"] == NAMED_SKU} == {"After"}


@ON_BOTH_DATABASES
def test_carried_personal_data_is_sealed_and_unreadable_once_forgotten(vendor: str, cold_storage: Path) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order("c-carried-sealed")
    assert archive_due(now=timezone.now() + LATER).archived == [str(order_id)]
    (carried,) = cold_storage.rglob("*.rows.gz")
    assert EMAIL.encode() not in gzip.decompress(carried.read_bytes())
    fast, _ = rebuilt("--from-archive-rows")
    assert OrderDetail.objects.using(read_database()).get(order_id=order_id).customer_email == EMAIL
    handle(ForgetCustomer(customer_id="c-carried-sealed"))
    live = tables()
    fast, _ = rebuilt("--from-archive-rows")
    row = OrderSummary.objects.using(read_database()).get(order_id=order_id)
    assert (row.customer_email, row.customer_name) == ("", "")
    assert fast == live


@ON_BOTH_DATABASES
def test_a_projection_whose_rows_are_not_carried_as_it_writes_them_now_is_replayed_in_full(
    vendor: str, settings: Any, cold_storage: Path
) -> None:
    assert connection.vendor == vendor
    drive_orders(6, seed=5)
    delivered_order("c-carried-format")
    assert archive_due(now=timezone.now() + LATER).archived
    # The orders projection now keeps fewer timeline entries than its carried rows were folded with.
    settings.ORDER_TIMELINE_ENTRIES = 2
    full, _ = rebuilt()
    fast, steps = rebuilt("--from-archive-rows")
    assert "replaying orders in full" in steps
    assert "replaying sales" not in steps
    assert fast == full
    # A rows file lost: every carrying projection is replayed in full.
    next(cold_storage.rglob("*.rows.gz")).unlink()
    fast, steps = rebuilt("--from-archive-rows")
    assert "replaying sales in full" in steps
    assert fast == full


@pytest.mark.postgres
@pytest.mark.parametrize("killed_after", [*STEPS[:3], "deleted"])
def test_rows_carried_by_an_archiver_killed_and_run_again_restore_the_live_tables(killed_after: str) -> None:
    drive_orders(6, seed=3)
    delivered_order("c-carried-killed")

    class Killed(BaseException):
        pass

    def kill(step: str, _stream: str) -> None:
        if step == killed_after:
            raise Killed

    with pytest.raises(Killed):
        archive_due(now=timezone.now() + LATER, step=kill)
    assert archive_due(now=timezone.now() + LATER).archived
    live = tables()
    fast, steps = rebuilt("--from-archive-rows")
    assert "in full" not in steps
    assert fast == live


@pytest.mark.postgres
def test_a_damaged_carried_body_stops_the_fast_rebuild_and_leaves_the_live_tables(cold_storage: Path) -> None:
    delivered_order("c-carried-damaged")
    assert archive_due(now=timezone.now() + LATER).archived
    live = tables()
    (carried,) = cold_storage.rglob("*.rows.gz")
    header, body = gzip.decompress(carried.read_bytes()).split(b"\n", 1)
    carried.write_bytes(gzip.compress(header + b"\n" + body.replace(b"DELIVERED", b"CANCELLED")))
    with pytest.raises(CommandError, match="checksum"):
        call_command("rebuild_projections", "--from-archive-rows", verbosity=0, stderr=StringIO())
    assert tables() == live
    assert ArchivedStream.objects.count() == 1
