"""Adjusting stock from the admin's product list: the API's command, permission and input
rules; a refusal is a message with its reason and nothing is appended."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from eventlog.models import StoredEvent
from inventory.events import product_stream
from readmodels.models import ProductStock
from tests.factories import ReceiveStockFactory, RegisterProductFactory, StaffUserFactory
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
LIST = "/admin/readmodels/productstock/"
ADJUST = "/admin/readmodels/productstock/MUG-1/adjust/"
# Where the form posts: the write side's command page (inventory/admin).
SEND = "/admin/products/MUG-1/adjust/"


@pytest.fixture
def mug(inline: None) -> None:
    handle(RegisterProductFactory(sku="MUG-1"))
    handle(ReceiveStockFactory(sku="MUG-1", quantity=10))


def staff(client: Client, *permissions: str) -> Client:
    client.force_login(StaffUserFactory(permissions=["readmodels.view_productstock", *permissions]))
    return client


def adjustments() -> list[dict[str, Any]]:
    rows = StoredEvent.objects.filter(stream_id=product_stream("MUG-1"), event_type="StockAdjusted")
    return [{**row.data, "source": row.metadata["source"]} for row in rows.order_by("version")]


def errors(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"] if message.level_tag == "error"]


def test_a_stock_keeper_writes_units_off_from_the_product_list(client: Client, mug: None) -> None:
    keeper = staff(client, "inventory.adjust_stock")
    assert ADJUST in keeper.get(LIST).content.decode()
    page = keeper.get(ADJUST).content.decode()
    assert 'name="quantity_delta"' in page
    assert "On hand 10" in page
    assert f'action="{SEND}"' in page
    # Posted to the page's old address, as a form from before would: passed on, still a POST.
    done = keeper.post(ADJUST, {"quantity_delta": "-3", "reason": "damaged"}, follow=True)
    assert done.redirect_chain[-1][0] == LIST
    assert "MUG-1: stock adjusted" in done.content.decode()
    assert adjustments() == [{"sku": "MUG-1", "quantity_delta": -3, "reason": "damaged", "source": "admin"}]
    assert ProductStock.objects.values_list("on_hand", "available").get(sku="MUG-1") == (7, 7)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"quantity_delta": "0", "reason": "count"}, "quantity_delta"),
        ({"quantity_delta": "two", "reason": "count"}, "quantity_delta"),
        ({"quantity_delta": "-1", "reason": ""}, "reason"),
        ({"quantity_delta": "-11", "reason": "lost"}, "below the 0 reserved"),
    ],
)
def test_a_refused_adjustment_says_why_and_appends_nothing(
    client: Client, mug: None, body: dict[str, str], reason: str
) -> None:
    response = staff(client, "inventory.adjust_stock").post(SEND, body)
    assert response.status_code == 200
    assert any(reason in line for line in errors(response)), errors(response)
    assert adjustments() == []


def test_staff_without_the_adjust_permission_get_403_and_no_link(client: Client, mug: None) -> None:
    viewer = staff(client, "inventory.manage_products")
    assert ADJUST not in viewer.get(LIST).content.decode()
    assert viewer.get(ADJUST).status_code == 403
    assert viewer.post(ADJUST, {"quantity_delta": "-1", "reason": "lost"}).status_code == 403
    assert viewer.post(SEND, {"quantity_delta": "-1", "reason": "lost"}).status_code == 403
    assert adjustments() == []
