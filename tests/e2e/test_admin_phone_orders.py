"""Phone orders and address changes in the admin: the API's commands, permission and input
rules; every refusal a message with its reason and nothing appended."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from eventlog.models import StoredEvent
from orders.api.permissions import PLACE
from orders.commands import ConfirmOrder, PayOrder, ShipOrder
from readmodels.models import OrderDetail
from tests.factories import CreateOrderFactory, StaffUserFactory, total_of
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PHONE_ORDER = "/admin/orders/phone-order/"
ORDER_ID = "6f1c1b4e-8f0e-4d7e-9a51-3f2b9a0c1d2e"
ADDRESS = {"name": "Ada Lovelace", "line1": "Marktplatz 1", "postal_code": "50667", "city": "Köln", "country": "DE"}


def phone_order(**changes: Any) -> dict[str, Any]:
    """The form as a clerk fills it: two lines (the third blank), shipping to ADDRESS."""
    form = {
        "order_id": ORDER_ID,
        "customer_id": "c-phone",
        "customer_email": "ada@example.com",
        "currency": "EUR",
        "payment_method": "invoice",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-0-sku": "TEA-1",
        "lines-0-quantity": "2",
        "lines-0-unit_price": "4.50",
        "lines-1-sku": "CUP-2",
        "lines-1-quantity": "1",
        "lines-1-unit_price": "9.00",
        **{f"shipping-{key}": value for key, value in ADDRESS.items()},
    }
    form.update(changes)
    return form


@pytest.fixture
def clerk(client: Client, inline: None) -> Client:
    """A staff user who may list orders and place them, nothing else."""
    client.force_login(
        StaffUserFactory(
            username="clerk", permissions=["readmodels.view_ordersummary", "readmodels.view_orderdetail", PLACE]
        )
    )
    return client


def refusals(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"] if message.level_tag == "error"]


def test_a_clerk_places_a_phone_order_and_changes_its_address(clerk: Client) -> None:
    assert 'name="lines-0-sku"' in clerk.get(PHONE_ORDER).content.decode()
    assert "Place a phone order" in clerk.get("/admin/readmodels/ordersummary/").content.decode()
    placed = clerk.post(PHONE_ORDER, phone_order(), follow=True)
    assert placed.redirect_chain[-1][0] == f"/admin/readmodels/ordersummary/{ORDER_ID}/change/"
    created = StoredEvent.objects.get(stream_id=ORDER_ID, event_type="OrderCreated")
    assert (created.metadata["source"], created.metadata["user"]) == ("admin", "clerk")
    detail = OrderDetail.objects.get(order_id=ORDER_ID)
    assert [(line["sku"], line["quantity"]) for line in detail.lines] == [("TEA-1", 2), ("CUP-2", 1)]
    assert (detail.payment_method, detail.customer_email, detail.shipping_address) == (
        "invoice",
        "ada@example.com",
        {**ADDRESS, "line2": ""},
    )

    # The form shows the current address (the read side's page) and posts to the write side;
    # the old address of the form still takes a post there (307 keeps it a POST).
    address = f"/admin/readmodels/ordersummary/{ORDER_ID}/address/"
    form = clerk.get(address).content.decode()
    assert 'value="Marktplatz 1"' in form
    assert f'action="/admin/orders/{ORDER_ID}/address/"' in form
    moved = clerk.post(address, {**ADDRESS, "line1": "Domkloster 4", "city": "Bonn"}, follow=True)
    assert "Shipping address changed." in moved.content.decode()
    changed = StoredEvent.objects.get(stream_id=ORDER_ID, event_type="ShippingAddressChanged")
    assert (changed.metadata["source"], changed.metadata["user"]) == ("admin", "clerk")
    moved_to = OrderDetail.objects.get(order_id=ORDER_ID).shipping_address
    assert moved_to == {**ADDRESS, "line1": "Domkloster 4", "city": "Bonn", "line2": ""}


def test_staff_without_the_place_permission_get_403_and_nothing_is_appended(client: Client, inline: None) -> None:
    existing = CreateOrderFactory()
    handle(existing)
    client.force_login(StaffUserFactory(permissions=["readmodels.view_ordersummary", "orders.fulfil_order"]))
    assert "Place a phone order" not in client.get("/admin/readmodels/ordersummary/").content.decode()
    before = StoredEvent.objects.count()
    assert client.get(PHONE_ORDER).status_code == 403
    assert client.post(PHONE_ORDER, phone_order()).status_code == 403
    assert client.post(f"/admin/orders/{existing.order_id}/address/", ADDRESS).status_code == 403
    assert StoredEvent.objects.count() == before


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"shipping-country": "XX"}, "shipping_address.country: Must be an ISO 3166-1 alpha-2 code like DE."),
        ({"shipping-country": "de"}, "shipping_address.country: Must be an ISO 3166-1 alpha-2 code like DE."),
        (
            {f"lines-{n}-{field}": "" for n in (0, 1) for field in ("sku", "quantity", "unit_price")},
            "items: Ensure this field has at least 1 elements.",
        ),
        ({"lines-1-quantity": "0"}, "items 2.quantity: Ensure this value is greater than or equal to 1."),
        ({"currency": "euro"}, "currency: Must be an ISO 4217 code like EUR."),
        ({"payment_method": "cheque"}, 'payment_method: "cheque" is not a valid choice.'),
        ({"shipping-name": "x" * 201}, "shipping_address.name: Ensure this field has no more than 200 characters."),
    ],
)
def test_bad_phone_orders_are_refused_with_the_reason_and_nothing_appended(
    clerk: Client, changes: dict[str, str], reason: str
) -> None:
    response = clerk.post(PHONE_ORDER, phone_order(**changes))
    assert response.status_code == 200
    assert f"Refused, {reason}" in refusals(response)
    assert not StoredEvent.objects.exists()


def test_a_refused_address_change_says_why_and_appends_nothing(clerk: Client) -> None:
    shipped = CreateOrderFactory()
    handle(shipped)
    handle(ConfirmOrder(order_id=shipped.order_id))
    handle(PayOrder(order_id=shipped.order_id, payment_id="p", amount=total_of(shipped)))
    handle(ShipOrder(order_id=shipped.order_id, tracking_number="T-1"))
    address = f"/admin/orders/{shipped.order_id}/address/"
    before = StoredEvent.objects.count()
    bad = clerk.post(address, {**ADDRESS, "country": "XX"})
    assert "Refused, shipping_address.country: Must be an ISO 3166-1 alpha-2 code like DE." in refusals(bad)
    late = clerk.post(address, ADDRESS)
    assert late.status_code == 200
    assert any("SHIPPED" in message or "ship" in message for message in refusals(late)), refusals(late)
    assert StoredEvent.objects.count() == before
