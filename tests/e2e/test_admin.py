"""The back office: read-only read models, actions through commands, status and dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from eventlog.models import StoredEvent
from orders.bus import handle
from orders.commands import ConfirmOrder, PayOrder
from readmodels.models import DeadLetter, OrderSummary
from tests.factories import CreateOrderFactory, total_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHANGELIST = "/admin/readmodels/ordersummary/"


@pytest.fixture
def staff(client: Client, inline: None) -> Client:
    User.objects.create_superuser("boss", "boss@example.com", "pw")
    # Signed in directly: axes refuses a password check without a request, which the test
    # client's login() does not pass (test_api_auth.py signs in through the login form).
    client.force_login(User.objects.get(username="boss"))
    return client


def order() -> Any:
    create = CreateOrderFactory()
    handle(create)
    return create


def test_read_models_are_read_only(staff: Client) -> None:
    created = order()
    assert staff.get(CHANGELIST).status_code == 200
    assert staff.get(CHANGELIST + "add/").status_code == 403
    page = staff.get(f"{CHANGELIST}{created.order_id}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert staff.post(f"{CHANGELIST}{created.order_id}/delete/").status_code == 403
    for path in ("orderdetail", "customerorderstats", "dailysales", "deadletter"):
        assert staff.get(f"/admin/readmodels/{path}/").status_code == 200


def test_the_order_list_links_detail_customer_and_events(staff: Client) -> None:
    created = order()
    html = staff.get(CHANGELIST).content.decode()
    assert f"/admin/readmodels/orderdetail/{created.order_id}/change/" in html
    assert f"/admin/readmodels/customerorderstats/{created.customer_id}/change/" in html
    assert f"/admin/eventlog/storedevent/?stream_id={created.order_id}" in html
    events = staff.get(f"/admin/eventlog/storedevent/?stream_id={created.order_id}")
    assert events.status_code == 200
    assert "OrderCreated" in events.content.decode()
    detail = staff.get(f"/admin/readmodels/orderdetail/{created.order_id}/change/").content.decode()
    assert created.items[0].sku in detail


def test_confirm_action_goes_through_the_bus_and_reports_refusals(staff: Client) -> None:
    pending, paid = order(), order()
    handle(ConfirmOrder(order_id=paid.order_id))
    handle(PayOrder(order_id=paid.order_id, payment_id="p", amount=total_of(paid)))
    response = staff.post(
        CHANGELIST, {"action": "confirm", "_selected_action": [str(pending.order_id), str(paid.order_id)]}, follow=True
    )
    text = response.content.decode()
    assert "refused, Cannot confirm an order in status PAID" in text
    assert OrderSummary.objects.get(order_id=pending.order_id).status == "CONFIRMED"
    confirm = StoredEvent.objects.get(stream_id=str(pending.order_id), event_type="OrderConfirmed")
    assert (confirm.metadata["source"], confirm.metadata["user"]) == ("admin", "boss")


def test_cancel_action_asks_for_a_reason_then_cancels(staff: Client) -> None:
    created = order()
    ids = [str(created.order_id)]
    form = staff.post(CHANGELIST, {"action": "cancel", "_selected_action": ids})
    assert b'name="reason"' in form.content
    assert OrderSummary.objects.get(order_id=created.order_id).status == "PENDING"
    staff.post(CHANGELIST, {"action": "cancel", "_selected_action": ids, "apply": "1", "reason": "out of stock"})
    assert OrderSummary.objects.get(order_id=created.order_id).status == "CANCELLED"
    assert StoredEvent.objects.get(event_type="OrderCancelled").data["reason"] == "out of stock"


def test_ship_action(staff: Client) -> None:
    created = order()
    handle(ConfirmOrder(order_id=created.order_id))
    handle(PayOrder(order_id=created.order_id, payment_id="p", amount=total_of(created)))
    data = {
        "action": "ship",
        "_selected_action": [str(created.order_id)],
        "apply": "1",
        "tracking_number": "T-9",
        "carrier": "UPS",
    }
    staff.post(CHANGELIST, data)
    assert OrderSummary.objects.get(order_id=created.order_id).status == "SHIPPED"


def test_actions_need_the_command_permission(client: Client, inline: None) -> None:
    created = order()
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_ordersummary"), Permission.objects.get(codename="place_order")
    )
    client.force_login(clerk)
    actions = client.get(CHANGELIST).content.decode()
    assert 'value="confirm"' in actions
    assert 'value="cancel"' not in actions
    client.post(
        CHANGELIST, {"action": "cancel", "_selected_action": [str(created.order_id)], "apply": "1", "reason": "x"}
    )
    assert OrderSummary.objects.get(order_id=created.order_id).status == "PENDING"


def test_projection_status_page_and_retry_of_a_parked_event(staff: Client) -> None:
    created = order()
    DeadLetter.objects.create(
        projection="orders",
        position=StoredEvent.objects.get().position,
        event_id=StoredEvent.objects.get().event_id,
        event_type="OrderCreated",
        stream_id=str(created.order_id),
        status=DeadLetter.Status.PARKED,
        attempts=5,
        error="RuntimeError: bug",
    )
    page = staff.get("/admin/projections/").content.decode()
    assert "RuntimeError: bug" in page
    assert 'id="projection-status"' in page
    response = staff.post(
        "/admin/projections/",
        {"action": "skip", "projection": "orders", "stream_id": str(created.order_id)},
        follow=True,
    )
    assert "is flowing again" in response.content.decode()
    assert DeadLetter.objects.get().status == DeadLetter.Status.SKIPPED


def test_rebuild_button_and_dashboard(staff: Client) -> None:
    created = order()
    handle(ConfirmOrder(order_id=created.order_id))
    handle(PayOrder(order_id=created.order_id, payment_id="p", amount=total_of(created)))
    response = staff.post("/admin/projections/", {"action": "rebuild", "projection": "orders"}, follow=True)
    head = StoredEvent.objects.latest("position").position
    assert f"Rebuilt orders up to position {head}." in response.content.decode()
    dashboard = staff.get("/admin/dashboard/").content.decode()
    assert 'id="status-PAID">1<' in dashboard
    assert "<rect" in dashboard
    assert staff.get("/admin/").content.decode().count("/admin/dashboard/") >= 1


def test_only_superusers_change_projections(client: Client, inline: None) -> None:
    User.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(User.objects.get(username="viewer"))
    assert client.get("/admin/projections/").status_code == 200
    assert client.post("/admin/projections/", {"action": "rebuild", "projection": "orders"}).status_code == 403
