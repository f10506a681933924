"""The order page staff work from: all of an order, and a button for exactly the actions its
status allows the user, each sending the API's command through the bus with the API
endpoint's permission, and saying what happened or why not."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from eventlog.models import StoredEvent
from orders.api.permissions import CANCEL, FULFIL, PLACE
from orders.api.views import (
    CancelOrderView,
    ChangeShippingAddressView,
    ConfirmOrderView,
    DeliverOrderView,
    PayOrderView,
    RefundOrderView,
    ReturnOrderView,
    ShipOrderView,
)
from orders.commands import ConfirmOrder, DeliverOrder, ForgetCustomer, PayOrder, ShipOrder
from readmodels.models import OrderDetail, OrderSummary
from tests.factories import (
    AddressFactory,
    CancelOrderFactory,
    CreateOrderFactory,
    LineItemFactory,
    StaffUserFactory,
    SuperuserFactory,
    total_of,
)
from writeside.api.views import CommandView
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BUTTONS = ("confirm", "pay", "ship", "deliver", "cancel", "address", "refund", "return")
# The API endpoint sending the same command as each button: the admin asks its permission.
ENDPOINTS: dict[str, type[CommandView]] = {
    "confirm": ConfirmOrderView,
    "pay": PayOrderView,
    "ship": ShipOrderView,
    "deliver": DeliverOrderView,
    "cancel": CancelOrderView,
    "address": ChangeShippingAddressView,
    "refund": RefundOrderView,
    "return": ReturnOrderView,
}
OFFERED = {
    "PENDING": {"confirm", "cancel", "address"},
    "CONFIRMED": {"pay", "cancel", "address"},
    "PAID": {"ship", "cancel", "address"},
    "SHIPPED": {"deliver"},
    "DELIVERED": {"return"},
    "CANCELLED": set(),
}


def page_of(order_id: Any) -> str:
    return f"/admin/readmodels/ordersummary/{order_id}/change/"


def post_to(order_id: Any, action: str) -> str:
    return f"/admin/orders/{order_id}/{action}/"


def order_in(status: str, **changes: Any) -> Any:
    """An order driven through the bus to `status`."""
    create = CreateOrderFactory(**changes)
    handle(create)
    steps: list[Callable[[], Any]] = [
        lambda: handle(ConfirmOrder(order_id=create.order_id)),
        lambda: handle(PayOrder(order_id=create.order_id, payment_id="pay-1", amount=total_of(create))),
        lambda: handle(ShipOrder(order_id=create.order_id, tracking_number="T-1", carrier="DHL")),
        lambda: handle(DeliverOrder(order_id=create.order_id)),
    ]
    if status == "CANCELLED":
        handle(CancelOrderFactory(order_id=create.order_id))
        return create
    if status == "REFUND_DUE":  # paid, then cancelled: the payment is owed back
        for step in steps[:2]:
            step()
        handle(CancelOrderFactory(order_id=create.order_id))
        return create
    for step in steps[: ["PENDING", "CONFIRMED", "PAID", "SHIPPED", "DELIVERED"].index(status)]:
        step()
    return create


def buttons(page: str) -> set[str]:
    shown = set(re.findall(r'<form method="post" action="[^"]*" id="action-(\w+)"', page))
    return shown | ({"address"} if 'id="change-address"' in page else set())


def messages_in(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


@pytest.fixture
def boss(client: Client, inline: None) -> Client:
    client.force_login(SuperuserFactory(username="boss"))
    return client


@pytest.mark.parametrize("status", OFFERED)
def test_the_page_offers_exactly_the_actions_the_status_allows(boss: Client, status: str) -> None:
    created = order_in(status)
    page = boss.get(page_of(created.order_id))
    assert page.status_code == 200
    assert buttons(page.content.decode()) == OFFERED[status]


def test_the_page_shows_the_whole_order_in_staff_words(boss: Client) -> None:
    home = AddressFactory(name="Ada <b>Lovelace</b>", line2="Hinterhaus")
    office = AddressFactory(city="Wien", country="AT")
    create = CreateOrderFactory(
        customer_email="ada@example.com",
        shipping_address=home,
        billing_address=office,
        payment_method="card",
        items=(LineItemFactory(sku="TEA-1", quantity=3, unit_price=Decimal("1234.50")),),
    )
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id))
    handle(PayOrder(order_id=create.order_id, payment_id="p-77", amount=total_of(create)))
    handle(CancelOrderFactory(order_id=create.order_id, reason="changed her mind"))
    page = boss.get(page_of(create.order_id)).content.decode()
    assert "<strong>Ada &lt;b&gt;Lovelace&lt;/b&gt;</strong>" in page  # the name, escaped
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;<br>" + home.line1 + "<br>Hinterhaus<br>" in page
    assert f"{office.postal_code} Wien<br>AT<br>" in page
    assert buttons(page) == {"refund"}  # paid, then cancelled: owed back
    for shown in ("ada@example.com", "card", "p-77", "changed her mind", "TEA-1", "OrderCancelled"):
        assert shown in page
    # Money in the currency's minor units, grouped: never the database's digits.
    assert "1,234.50 EUR" in page
    assert 'id="order-total">3,703.50 EUR<' in page
    assert 'id="refund-due">3,703.50 EUR<' in page
    assert f"/admin/eventlog/storedevent/?stream_id={create.order_id}" in page
    # No read-model internals.
    for internal in ("Search text", "search_text", "Version", "Order id", "Order summar", "Order detail", "Read model"):
        assert internal not in page, internal


def test_the_buttons_take_an_order_through_its_life_through_the_bus(boss: Client) -> None:
    created = order_in("PENDING", customer_id="c-life")
    order_id = created.order_id
    steps = [
        ("confirm", {}, "Confirmed.", "CONFIRMED"),
        ("pay", {"payment_id": "pay-9", "amount": str(total_of(created))}, "Payment recorded.", "PAID"),
        ("ship", {"tracking_number": "T-42", "carrier": "UPS"}, "Shipped.", "SHIPPED"),
        ("deliver", {}, "Marked delivered.", "DELIVERED"),
    ]
    for action, body, said, status in steps:
        response = boss.post(post_to(order_id, action), body, follow=True)
        assert response.redirect_chain[-1][0] == page_of(order_id)
        assert any(message.startswith(said) for message in messages_in(response)), messages_in(response)
        assert OrderSummary.objects.get(order_id=order_id).status == status
        assert f'id="order-status">{status}<' in response.content.decode()
    sent = StoredEvent.objects.filter(stream_id=str(order_id)).exclude(event_type="OrderCreated")
    assert {(event.metadata["source"], event.metadata["user"]) for event in sent} == {("admin", "boss")}
    assert StoredEvent.objects.get(stream_id=str(order_id), event_type="OrderShipped").data["tracking_number"] == "T-42"


def test_cancel_asks_for_a_reason_and_sends_it(boss: Client) -> None:
    created = order_in("CONFIRMED")
    assert 'name="reason"' in boss.get(page_of(created.order_id)).content.decode()
    refused = boss.post(post_to(created.order_id, "cancel"), {}, follow=True)
    assert "Refused, reason: This field is required." in messages_in(refused)
    assert OrderSummary.objects.get(order_id=created.order_id).status == "CONFIRMED"
    boss.post(post_to(created.order_id, "cancel"), {"reason": "out of stock"})
    assert StoredEvent.objects.get(event_type="OrderCancelled").data["reason"] == "out of stock"
    assert OrderSummary.objects.get(order_id=created.order_id).status == "CANCELLED"


@pytest.mark.parametrize(
    ("action", "body", "reason"),
    [
        ("confirm", {}, "Refused, Cannot confirm an order in status PAID"),
        ("pay", {"payment_id": "again", "amount": "1.00"}, "Refused, Cannot pay an order in status PAID"),
        ("deliver", {}, "Refused, Cannot deliver an order in status PAID"),
        ("ship", {"tracking_number": ""}, "Refused, tracking_number: This field may not be blank."),
    ],
)
def test_a_stale_or_bad_press_says_why_and_appends_nothing(
    boss: Client, action: str, body: dict[str, str], reason: str
) -> None:
    paid = order_in("PAID")
    before = StoredEvent.objects.count()
    response = boss.post(post_to(paid.order_id, action), body, follow=True)
    assert response.status_code == 200
    assert any(message.startswith(reason) for message in messages_in(response)), messages_in(response)
    assert StoredEvent.objects.count() == before


def test_a_payment_of_another_amount_is_the_domains_refusal(boss: Client) -> None:
    confirmed = order_in("CONFIRMED")
    response = boss.post(post_to(confirmed.order_id, "pay"), {"payment_id": "p", "amount": "0.01"}, follow=True)
    assert [message for message in messages_in(response) if message.startswith("Refused")]
    assert OrderSummary.objects.get(order_id=confirmed.order_id).status == "CONFIRMED"


FORGED = {
    "confirm": ("PENDING", {}),
    "pay": ("CONFIRMED", {"payment_id": "p", "amount": "1.00"}),
    "ship": ("PAID", {"tracking_number": "T"}),
    "deliver": ("SHIPPED", {}),
    "cancel": ("PENDING", {"reason": "forged"}),
    "address": ("PENDING", {"name": "X", "line1": "Y 1", "postal_code": "1", "city": "Z", "country": "DE"}),
    "refund": ("REFUND_DUE", {"refund_id": "r-1", "amount": "0.01"}),
    "return": ("DELIVERED", {"reason": "broken", "restock": "on"}),
}


@pytest.mark.parametrize("action", BUTTONS)
def test_each_button_needs_exactly_its_api_endpoints_permission(client: Client, inline: None, action: str) -> None:
    status, body = FORGED[action]
    created = order_in(status)
    if action == "pay":
        body = {**body, "amount": str(total_of(created))}
    if action == "return":
        body = {**body, f"return-{created.items[0].sku}": "1"}
    needed = ENDPOINTS[action].required_permission
    without = StaffUserFactory(
        username="without", permissions=["readmodels.view_ordersummary", *({PLACE, FULFIL, CANCEL} - {needed})]
    )
    client.force_login(without)
    assert action not in buttons(client.get(page_of(created.order_id)).content.decode())
    before = StoredEvent.objects.count()
    assert client.post(post_to(created.order_id, action), body).status_code == 403
    assert StoredEvent.objects.count() == before
    with_it: User = StaffUserFactory(username="with", permissions=["readmodels.view_ordersummary", needed])
    client.force_login(with_it)
    assert action in buttons(client.get(page_of(created.order_id)).content.decode())
    assert client.post(post_to(created.order_id, action), body).status_code == 302
    assert StoredEvent.objects.count() > before


def test_the_buttons_need_a_staff_login(client: Client, inline: None) -> None:
    created = order_in("PENDING")
    response = client.post(post_to(created.order_id, "confirm"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert OrderSummary.objects.get(order_id=created.order_id).status == "PENDING"
    assert client.get(post_to(created.order_id, "confirm")).status_code == 302  # to the login too


def test_a_get_on_a_button_sends_nothing(boss: Client) -> None:
    created = order_in("PENDING")
    assert boss.get(post_to(created.order_id, "confirm")).status_code == 405
    assert OrderSummary.objects.get(order_id=created.order_id).status == "PENDING"


def test_the_pages_users_know_still_lead_to_the_order(boss: Client) -> None:
    created = order_in("PENDING")
    detail = boss.get(f"/admin/readmodels/orderdetail/{created.order_id}/change/")
    assert detail.status_code == 302
    assert detail["Location"] == page_of(created.order_id)
    assert boss.get("/admin/readmodels/orderdetail/")["Location"] == "/admin/readmodels/ordersummary/"
    moved = boss.post("/admin/readmodels/ordersummary/phone-order/", {})
    assert moved.status_code == 307
    assert moved["Location"] == "/admin/orders/phone-order/"


def test_the_menu_names_no_read_model(boss: Client) -> None:
    index = boss.get("/admin/").content.decode()
    for name in ("Order summaries", "Order details", "Customer order stats", "Read models", "Product stocks"):
        assert name not in index, name
    assert ">Orders</a>" in index
    assert ">Customers</a>" in index
    listing = boss.get("/admin/readmodels/ordersummary/").content.decode()
    assert "order summar" not in listing.lower()


def test_the_dashboard_shows_money_in_the_currencys_minor_units(boss: Client) -> None:
    for price in ("5033.90", "5033.90", "5033.90"):
        order_in("PAID", items=(LineItemFactory(quantity=1, unit_price=Decimal(price)),))
    order_in("PAID", currency="JPY", items=(LineItemFactory(quantity=2, unit_price=Decimal("1500")),))
    page = boss.get("/admin/dashboard/").content.decode()
    assert '<h3 id="revenue-EUR">15,101.70 EUR</h3>' in page
    assert '<h3 id="revenue-JPY">3,000 JPY</h3>' in page
    # Every amount shown (headings, each day's bar) to the cent, or to the yen: never a sum's extra digits.
    assert re.findall(r"[\d,.]+ EUR", page)
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2} EUR", amount) for amount in re.findall(r"[\d,.]+ EUR", page))
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})* JPY", amount) for amount in re.findall(r"[\d,.]+ JPY", page))


def test_a_forgotten_customers_order_shows_no_personal_data_and_still_acts(boss: Client) -> None:
    created = order_in(
        "CONFIRMED",
        customer_id="c-forget",
        customer_email="eve@example.com",
        shipping_address=AddressFactory(name="Eve Example"),
    )
    handle(ForgetCustomer(customer_id="c-forget"))
    page = boss.get(page_of(created.order_id)).content.decode()
    assert "Eve Example" not in page
    assert "eve@example.com" not in page
    assert buttons(page) == OFFERED["CONFIRMED"]
    boss.post(post_to(created.order_id, "cancel"), {"reason": "forgotten"})
    assert OrderSummary.objects.get(order_id=created.order_id).status == "CANCELLED"


def test_the_page_of_an_order_whose_detail_lags_says_so(boss: Client) -> None:
    created = order_in("PENDING")
    OrderDetail.objects.filter(order_id=created.order_id).delete()  # as if its projection had not run yet
    page = boss.get(page_of(created.order_id))
    assert page.status_code == 200
    assert "The lines show once the projection has run." in page.content.decode()
    assert buttons(page.content.decode()) == OFFERED["PENDING"]


def test_a_button_pressed_twice_is_refused_the_second_time(boss: Client) -> None:
    created = order_in("PENDING")
    boss.post(post_to(created.order_id, "confirm"))
    again = boss.post(post_to(created.order_id, "confirm"), follow=True)
    assert "Refused, Cannot confirm an order in status CONFIRMED" in messages_in(again)
    assert StoredEvent.objects.filter(stream_id=str(created.order_id), event_type="OrderConfirmed").count() == 1


def test_an_unknown_order_is_the_domains_refusal_and_an_unknown_page_404(boss: Client) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    refused = boss.post(post_to(missing, "confirm"))
    assert refused.status_code == 302
    assert boss.get(page_of(missing)).status_code == 404
    assert boss.post(f"/admin/orders/{missing}/explode/").status_code == 404
    assert not StoredEvent.objects.exists()


def test_an_order_in_the_log_but_not_yet_in_the_list_says_so(client: Client, settings: Any) -> None:
    """Under Celery (no worker here) a phone order's page may be asked for before the
    projection has run: the list says it is coming, no 404."""
    settings.PROJECTIONS_INLINE = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client.force_login(SuperuserFactory(username="boss"))
    created = CreateOrderFactory()
    handle(created)
    assert not OrderSummary.objects.filter(order_id=created.order_id).exists()
    response = client.get(page_of(created.order_id), follow=True)
    assert response.redirect_chain[-1][0] == "/admin/readmodels/ordersummary/"
    assert any("fills in once the projection has run" in message for message in messages_in(response))


def test_a_yen_order_is_shown_and_paid_in_whole_yen(boss: Client) -> None:
    created = order_in("CONFIRMED", currency="JPY", items=(LineItemFactory(quantity=2, unit_price=Decimal("1500")),))
    page = boss.get(page_of(created.order_id)).content.decode()
    assert 'id="order-total">3,000 JPY<' in page
    assert 'name="amount" value="3000"' in page  # the pay form starts at the total, in yen
    paid = boss.post(post_to(created.order_id, "pay"), {"payment_id": "p-jpy", "amount": "3000"}, follow=True)
    assert any(message.startswith("Payment recorded.") for message in messages_in(paid)), messages_in(paid)


def test_a_refund_and_a_return_from_the_page(boss: Client) -> None:
    owed = order_in("REFUND_DUE", items=(LineItemFactory(sku="MUG-9", quantity=2, unit_price=Decimal("10.00")),))
    page = boss.get(page_of(owed.order_id)).content.decode()
    assert 'name="amount" value="20.00"' in page  # the refund form starts at what is owed
    too_much = boss.post(post_to(owed.order_id, "refund"), {"refund_id": "r-1", "amount": "25.00"}, follow=True)
    assert any(
        message.startswith("Refused, Refund 25") and "is more than" in message for message in messages_in(too_much)
    )
    paid = boss.post(post_to(owed.order_id, "refund"), {"refund_id": "r-1", "amount": "20.00"}, follow=True)
    assert any(message.startswith("Refund recorded.") for message in messages_in(paid)), messages_in(paid)
    assert 'id="refunded">20.00 EUR<' in paid.content.decode()
    assert "refund" not in buttons(paid.content.decode())  # nothing owed any more

    delivered = order_in("DELIVERED", items=(LineItemFactory(sku="MUG-8", quantity=2, unit_price=Decimal("10.00")),))
    assert 'name="return-MUG-8"' in boss.get(page_of(delivered.order_id)).content.decode()
    body = {"return-MUG-8": "1", "reason": "chipped", "restock": "on"}
    returned = boss.post(post_to(delivered.order_id, "return"), body, follow=True)
    assert any(message.startswith("Return recorded.") for message in messages_in(returned)), messages_in(returned)
    assert 'id="refund-due">10.00 EUR<' in returned.content.decode()
    assert buttons(returned.content.decode()) == {"return", "refund"}  # one mug left to return; 10.00 owed
    event = StoredEvent.objects.get(stream_id=str(delivered.order_id), event_type="OrderReturned")
    assert (event.data["reason"], event.data["restock"], event.metadata["source"]) == ("chipped", True, "admin")
