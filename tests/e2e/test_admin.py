"""The back office: read-only read models, actions through commands, status and dashboard."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory

from eventlog.models import StoredEvent
from orders.commands import ConfirmOrder, ForgetCustomer, PayOrder
from orders.customers import customer_stream_id
from projector.models import DeadLetter
from readmodels.models import OrderSummary
from tests.factories import (
    AddressFactory,
    CreateOrderFactory,
    StaffUserFactory,
    total_of,
)
from tests.support.grants import least_privileged
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHANGELIST = "/admin/readmodels/ordersummary/"
OPERATIONS = ("retry", "skip", "rebuild", "verify")  # every action the projections page takes


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
    lists = ("readmodels/customerorderstats", "readmodels/dailysales", "projector/deadletter")
    for path in lists:
        assert staff.get(f"/admin/{path}/").status_code == 200


def test_the_order_list_links_the_order_and_customer_and_the_order_its_events(staff: Client) -> None:
    created = order()
    html = staff.get(CHANGELIST).content.decode()
    assert f"/admin/readmodels/ordersummary/{created.order_id}/change/" in html
    assert f"/admin/readmodels/customerorderstats/{created.customer_id}/change/" in html
    page = staff.get(f"{CHANGELIST}{created.order_id}/change/").content.decode()
    assert created.items[0].sku in page
    assert f"/admin/eventlog/storedevent/?stream_id={created.order_id}" in page
    events = staff.get(f"/admin/eventlog/storedevent/?stream_id={created.order_id}")
    assert events.status_code == 200
    assert "OrderCreated" in events.content.decode()


def test_the_order_list_shows_whose_order_it_is_until_they_are_forgotten(staff: Client) -> None:
    named = CreateOrderFactory(
        customer_id="c-named",
        customer_email="vera.named@example.org",
        shipping_address=AddressFactory(name="Vera Named"),
    )
    handle(named)
    html = staff.get(CHANGELIST).content.decode()
    assert "Vera Named" in html
    assert "vera.named@example.org" in html
    handle(ForgetCustomer(customer_id="c-named"))
    html = staff.get(CHANGELIST).content.decode()
    assert "Vera Named" not in html
    assert "vera.named@example.org" not in html
    assert "c-named" in html


def parked(created: Any) -> DeadLetter:
    """A dead letter parking the order's first event in the `orders` projection."""
    first = StoredEvent.objects.get(stream_id=str(created.order_id), version=1)
    return DeadLetter.objects.create(
        projection="orders",
        position=first.position,
        event_id=first.event_id,
        event_type="OrderCreated",
        stream_id=str(created.order_id),
        status=DeadLetter.Status.PARKED,
        attempts=5,
        error="RuntimeError: bug",
    )


def test_projection_status_page_and_retry_of_a_parked_event(staff: Client) -> None:
    created = order()
    parked(created)
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
    assert f"orders: done, position {head} of {head}" in response.content.decode()  # the phase it reached
    dashboard = staff.get("/admin/dashboard/").content.decode()
    assert 'id="status-PAID">1<' in dashboard
    assert "<rect" in dashboard
    assert staff.get("/admin/").content.decode().count("/admin/dashboard/") >= 1


def test_verify_button_shows_the_books_verified_and_then_a_tampered_row(staff: Client) -> None:
    created = order()
    page = staff.get("/admin/projections/").content.decode()
    assert 'value="verify"' in page
    response = staff.post("/admin/projections/", {"action": "verify"}, follow=True)
    assert "The books verify: no divergence." in response.content.decode()
    OrderSummary.objects.filter(order_id=created.order_id).update(item_count=99)
    response = staff.post("/admin/projections/", {"action": "verify"}, follow=True)
    shown = html.unescape(response.content.decode())
    differs = "1 row(s) whose live copy differs from the log's"
    assert f"[read-models] orders: readmodels_ordersummary: {differs}: {created.order_id}" in shown
    assert "1 divergence(s)." in shown


@pytest.fixture
def staff_with(client: Client, inline: None) -> Callable[..., Client]:
    """Log in a new staff user holding only the given permissions ("app_label.codename")."""

    def login(*permissions: str) -> Client:
        client.force_login(StaffUserFactory(permissions=list(permissions)))
        return client

    return login


def blocked_projection() -> tuple[Any, Callable[[], tuple[str, int, bool]]]:
    """An order whose first event is parked, and its summary row gone (what a rebuild would
    put back); returns the order and a probe of what the operator actions would change."""
    created = order()
    letter = parked(created)
    OrderSummary.objects.all().delete()

    def state() -> tuple[str, int, bool]:
        letter.refresh_from_db()
        return letter.status, letter.attempts, OrderSummary.objects.exists()

    return created, state


def operator_actions(created: Any) -> list[dict[str, str]]:
    """Every POST the projections page takes (the rebuild by a full replay and from archive rows)."""
    posts = [{"action": action, "projection": "orders", "stream_id": str(created.order_id)} for action in OPERATIONS]
    return [*posts, {"action": "rebuild", "projection": "orders", "from_archive_rows": "1"}]


def test_staff_without_permissions_get_neither_status_page(staff_with: Callable[..., Client]) -> None:
    created, state = blocked_projection()
    client = staff_with()
    for path in ("/admin/projections/", "/admin/dashboard/"):
        assert client.get(path).status_code == 403
    for data in operator_actions(created):
        assert client.post("/admin/projections/", data).status_code == 403
    assert state() == (DeadLetter.Status.PARKED, 5, False)
    index = client.get("/admin/").content.decode()
    assert "/admin/projections/" not in index
    assert "/admin/dashboard/" not in index


def test_the_view_permissions_show_the_pages_and_refuse_every_action(staff_with: Callable[..., Client]) -> None:
    created, state = blocked_projection()
    client = staff_with("readmodels.view_dailysales")
    dashboard = client.get("/admin/dashboard/")
    assert dashboard.status_code == 200
    assert "Projection lag" not in dashboard.content.decode()
    assert client.get("/admin/projections/").status_code == 403
    client = staff_with("projector.view_deadletter")
    page = client.get("/admin/projections/")
    assert page.status_code == 200
    assert "RuntimeError: bug" in page.content.decode()
    assert not [action for action in OPERATIONS if f'value="{action}"' in page.content.decode()]
    assert 'name="from_archive_rows"' not in page.content.decode()
    for data in operator_actions(created):
        assert client.post("/admin/projections/", data).status_code == 403
    assert state() == (DeadLetter.Status.PARKED, 5, False)


def test_the_change_permission_runs_retry_skip_rebuild_and_verify(staff_with: Callable[..., Client]) -> None:
    created, state = blocked_projection()
    client = staff_with("projector.change_deadletter")
    page = client.get("/admin/projections/").content.decode()
    assert all(f'value="{action}"' in page for action in OPERATIONS)
    assert 'name="from_archive_rows"' in page
    retry, skip, rebuild, verify, from_archive_rows = operator_actions(created)
    assert "is flowing again" in client.post("/admin/projections/", skip, follow=True).content.decode()
    assert state() == (DeadLetter.Status.SKIPPED, 5, False)
    second, _ = blocked_projection()
    assert client.post("/admin/projections/", {**retry, "stream_id": str(second.order_id)}).status_code == 302
    assert DeadLetter.objects.get(stream_id=str(second.order_id)).status == DeadLetter.Status.RESOLVED
    OrderSummary.objects.all().delete()
    assert client.post("/admin/projections/", rebuild).status_code == 302
    assert set(OrderSummary.objects.values_list("order_id", flat=True)) == {created.order_id, second.order_id}
    OrderSummary.objects.all().delete()
    assert client.post("/admin/projections/", from_archive_rows).status_code == 302
    assert set(OrderSummary.objects.values_list("order_id", flat=True)) == {created.order_id, second.order_id}
    assert (
        "The books verify: no divergence." in client.post("/admin/projections/", verify, follow=True).content.decode()
    )


def test_the_event_log_and_everything_derived_from_it_are_read_only_in_the_admin(
    rf: RequestFactory, staff: Client
) -> None:
    request = rf.get("/admin/")
    request.user = User.objects.get(username="boss")  # a superuser: only the ModelAdmin can refuse
    checked = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {
            "eventlog",
            "orders",
            "inventory",
            "fulfilment",
            "readmodels",
            "notifications",
        }:
            continue  # users, groups, tokens
        checked.append(model._meta.label)
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
        assert "delete_selected" not in model_admin.get_actions(request), model
    assert {"eventlog.StoredEvent", "eventlog.CommandRecord", "readmodels.OrderSummary"} <= set(checked)


def test_the_site_is_branded_and_its_index_shows_the_domain_sections(staff: Client) -> None:
    index = staff.get("/admin/").content.decode()
    assert "<title>Orders, stock and operations | Back office</title>" in index
    assert "Order back office" in index
    captions = re.findall(r'<a href="[^"]*" class="section" title="[^"]*">([^<]+)</a>', index)
    assert captions[:3] == ["Orders", "Catalog and stock", "Operations"]
    assert "Read models" not in captions
    assert "Event log" not in captions
    sections = index.split('class="section"')
    assert "/admin/readmodels/productstock/" in sections[2]  # Catalog and stock
    assert "/admin/readmodels/productstock/" not in sections[1]  # not under Orders
    assert "/admin/eventlog/storedevent/" in sections[3]  # Operations
    # An app's own page stays where it was, under its app's name.
    assert "Orders and sales" in staff.get("/admin/readmodels/").content.decode()


def test_the_order_list_search_box_is_the_api_search(staff: Client) -> None:
    ada = CreateOrderFactory(
        customer_email="Ada.Lovelace@Example.com", shipping_address=AddressFactory(name="Ada Lovelace", city="Köln")
    )
    other = CreateOrderFactory()
    handle(ada)
    handle(other)
    number = OrderSummary.objects.get(order_id=ada.order_id).order_number
    page = staff.get(CHANGELIST).content.decode()
    assert 'id="searchbar"' in page
    for text in ("LOVELACE@exa", "köln lovelace", ada.items[0].sku.lower(), str(ada.order_id)):
        found = staff.get(CHANGELIST, {"q": text}).content.decode()
        assert number in found, text
        assert str(other.order_id) not in found, text
    customer = staff.get(f"/admin/readmodels/customerorderstats/{other.customer_id}/change/").content.decode()
    link = re.search(r"href='([^']+)'>this customer's orders", customer)
    assert link
    listed = staff.get(html.unescape(link.group(1)))
    assert listed.status_code == 200
    assert str(other.order_id) in listed.content.decode()
    assert str(ada.order_id) not in listed.content.decode()


def test_only_rebuildable_projections_offer_a_rebuild_and_the_others_are_refused_with_the_reason(
    staff: Client,
) -> None:
    page = staff.get("/admin/projections/").content.decode()
    assert 'name="projection" value="orders"' in page
    # The process manager sends commands: a replay would send them again.
    assert 'name="projection" value="fulfilment"' not in page
    response = staff.post("/admin/projections/", {"action": "rebuild", "projection": "fulfilment"}, follow=True)
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Fulfilment acts on the world (sends commands or messages) and is never rebuilt" in page
    with pytest.raises(CommandError, match="fulfilment acts on the world"):
        call_command("rebuild_projections", "fulfilment")


def test_a_dead_lettered_forgetting_is_refused_a_skip_with_the_reason(staff: Client) -> None:
    handle(CreateOrderFactory(customer_id="c-forget"))
    handle(ForgetCustomer(customer_id="c-forget"))
    forgotten = StoredEvent.objects.get(stream_id=customer_stream_id("c-forget"))
    letter = DeadLetter.objects.create(
        projection="orders",
        position=forgotten.position,
        event_id=forgotten.event_id,
        event_type="CustomerForgotten",
        stream_id=forgotten.stream_id,
        status=DeadLetter.Status.PARKED,
        attempts=5,
        error="RuntimeError: bug",
    )
    skip = {"action": "skip", "projection": "orders", "stream_id": forgotten.stream_id}
    page = html.unescape(staff.post("/admin/projections/", skip, follow=True).content.decode())
    assert "Orders may not skip CustomerForgotten" in page
    assert "Fix the cause, then retry it." in page
    letter.refresh_from_db()
    assert letter.status == DeadLetter.Status.PARKED


def test_the_page_and_the_command_say_when_a_rebuild_stops_live_projection(staff: Client) -> None:
    note = "live projection of the projection being rebuilt stops until the rebuild finishes"
    assert note not in staff.get("/admin/projections/").content.decode()  # the owner: blue/green
    with least_privileged():
        assert note in staff.get("/admin/projections/").content.decode()
        said = io.StringIO()
        call_command("rebuild_projections", "orders", stderr=said, stdout=io.StringIO())
        assert "live projection of the projections being rebuilt waits until this finishes" in said.getvalue()
