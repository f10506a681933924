"""Following one order's story across streams: the history endpoint and the admin filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from tests.support.http import ORDER_BODY, history_pages, problem

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]
CONFIRMATION = "6d1f0a52-4c1e-4d43-9b1e-0f9a3c1d2e77"
HISTORY_KEYS = {"event_id", "event_type", "version", "position", "occurred_at", "data", "metadata"}


def post(client: APIClient, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(path, body or {}, format="json", headers=headers)


def confirmed_order_of_a_stocked_product(client: APIClient) -> str:
    """An order of a stock-tracked SKU, confirmed under a known correlation id; the
    fulfilment process manager (inline) reserves its stock under the same id."""
    assert post(client, "/api/products/", {"sku": "SKU-1", "name": "Widget", "price": "9.99"}).status_code == 201
    assert post(client, "/api/products/SKU-1/receive/", {"quantity": 5}).status_code == 200
    order_id: str = post(client, "/api/orders/", ORDER_BODY).json()["order_id"]
    confirmed = post(client, f"/api/orders/{order_id}/confirm/", None, **{"X-Correlation-ID": CONFIRMATION})
    assert confirmed.status_code == 200, confirmed.content
    return order_id


def test_the_default_history_is_the_order_stream_only(admin_client_api: APIClient) -> None:
    order_id = confirmed_order_of_a_stocked_product(admin_client_api)
    results = admin_client_api.get(f"/api/orders/{order_id}/history/").json()["results"]
    assert [entry["event_type"] for entry in results] == ["OrderCreated", "OrderConfirmed", "OrderStockReserved"]
    assert all(set(entry) == HISTORY_KEYS for entry in results)
    for off in ("", "?story=false", "?story=0"):
        assert admin_client_api.get(f"/api/orders/{order_id}/history/{off}").json()["results"] == results


def test_the_story_follows_the_order_into_the_product_streams(admin_client_api: APIClient) -> None:
    order_id = confirmed_order_of_a_stocked_product(admin_client_api)
    story = admin_client_api.get(f"/api/orders/{order_id}/history/?story=true")
    assert story.status_code == 200, story.content
    results = story.json()["results"]
    assert all(set(entry) == HISTORY_KEYS | {"stream_type", "stream_id"} for entry in results)
    assert [(e["stream_type"], e["event_type"]) for e in results] == [
        ("order", "OrderCreated"),
        ("order", "OrderConfirmed"),
        ("product", "StockReserved"),
        ("order", "OrderStockReserved"),
    ]
    assert [entry["position"] for entry in results] == sorted(entry["position"] for entry in results)
    # The product's own registration and receipt belong to other stories.
    assert not {"ProductRegistered", "StockReceived"} & {entry["event_type"] for entry in results}
    reserved = results[2]
    assert reserved["metadata"]["correlation_id"] == CONFIRMATION
    assert reserved["metadata"]["causation_id"] == results[1]["event_id"]

    one = admin_client_api.get(f"/api/orders/{order_id}/history/?correlation={CONFIRMATION}").json()["results"]
    assert [entry["event_type"] for entry in one] == ["OrderConfirmed", "StockReserved", "OrderStockReserved"]


def test_the_story_is_paged_by_position(admin_client_api: APIClient) -> None:
    order_id = confirmed_order_of_a_stocked_product(admin_client_api)
    whole = admin_client_api.get(f"/api/orders/{order_id}/history/?story=true").json()
    assert whole["next"] is None
    pages = history_pages(admin_client_api, f"/api/orders/{order_id}/history/?story=true&limit=3")
    assert [len(page["results"]) for page in pages] == [3, 1]
    assert f"after_position={whole['results'][2]['position']}" in pages[0]["next"]
    assert [entry for page in pages for entry in page["results"]] == whole["results"]
    correlated = history_pages(admin_client_api, f"/api/orders/{order_id}/history/?correlation={CONFIRMATION}&limit=2")
    assert [entry["event_type"] for page in correlated for entry in page["results"]] == [
        "OrderConfirmed",
        "StockReserved",
        "OrderStockReserved",
    ]


def test_story_parameters_are_validated(admin_client_api: APIClient) -> None:
    order_id = confirmed_order_of_a_stocked_product(admin_client_api)
    base = f"/api/orders/{order_id}/history/"
    assert problem(admin_client_api.get(base + "?story=maybe"), 400)["errors"]["story"]
    assert problem(admin_client_api.get(base + "?correlation=not-a-uuid"), 400)["errors"]["correlation"]
    # Another story's id, or an unknown order, is not this order's story.
    problem(admin_client_api.get(base + "?correlation=00000000-0000-0000-0000-000000000000"), 404)
    problem(admin_client_api.get("/api/orders/00000000-0000-0000-0000-000000000000/history/?story=true"), 404)
    problem(APIClient().get(base + "?story=true"), 401)


def test_the_admin_filters_the_event_log_by_correlation_and_links_to_it(admin_client_api: APIClient) -> None:
    confirmed_order_of_a_stocked_product(admin_client_api)
    staff = Client()
    staff.force_login(User.objects.get(username="boss"))
    page = staff.get(f"/admin/eventlog/storedevent/?correlation={CONFIRMATION}")
    assert page.status_code == 200
    assert [event.event_type for event in page.context["cl"].result_list] == [
        "OrderConfirmed",
        "StockReserved",
        "OrderStockReserved",
    ]
    listing = staff.get("/admin/eventlog/storedevent/").content.decode()
    assert f"?correlation={CONFIRMATION}" in listing


def story_of(client: APIClient, order_id: str) -> list[tuple[str, str]]:
    """The order's story as (stream id, event type) pairs."""
    results = client.get(f"/api/orders/{order_id}/history/?story=true").json()["results"]
    return [(entry["stream_id"], entry["event_type"]) for entry in results]


def test_another_users_correlation_id_is_refused_and_never_joins_the_story(
    admin_client_api: APIClient, make_client: Callable[..., APIClient]
) -> None:
    order_id = confirmed_order_of_a_stocked_product(admin_client_api)
    story = story_of(admin_client_api, order_id)
    intruder = make_client("place_order", "cancel_order")
    events = StoredEvent.objects.count()
    # The same UUID spelled otherwise names the same story.
    for spelling in (CONFIRMATION, CONFIRMATION.upper(), "{" + CONFIRMATION + "}", CONFIRMATION.replace("-", "")):
        refused = post(intruder, "/api/orders/", ORDER_BODY, **{"X-Correlation-ID": spelling})
        assert "X-Correlation-ID" in problem(refused, 400)["errors"]
        refused = post(
            intruder, f"/api/orders/{order_id}/cancel/", {"reason": "mine"}, **{"X-Correlation-ID": spelling}
        )
        assert "X-Correlation-ID" in problem(refused, 400)["errors"]
    assert StoredEvent.objects.count() == events
    assert story_of(admin_client_api, order_id) == story
    # Without the header, or with a story of its own, the same user's commands go through.
    assert post(intruder, "/api/orders/", ORDER_BODY).status_code == 201
    assert post(intruder, "/api/orders/", ORDER_BODY, **{"X-Correlation-ID": str(uuid4())}).status_code == 201
    assert story_of(admin_client_api, order_id) == story


def test_a_user_reuses_its_own_correlation_id_across_commands(
    admin_client_api: APIClient, make_client: Callable[..., APIClient]
) -> None:
    # The confirmation's story has events the fulfilment process manager recorded under
    # no user after the client's; the client still owns it.
    order_id = confirmed_order_of_a_stocked_product(admin_client_api)
    assert StoredEvent.objects.filter(metadata__correlation_id=CONFIRMATION, metadata__user=None).exists()
    paid = post(
        admin_client_api,
        f"/api/orders/{order_id}/pay/",
        {"payment_id": "p-1", "amount": "19.98"},
        **{"X-Correlation-ID": CONFIRMATION},
    )
    assert paid.status_code == 200, paid.content
    # A second order placed and confirmed under one id of the client's own.
    clerk = make_client("place_order")
    mine = str(uuid4())
    second: str = post(clerk, "/api/orders/", ORDER_BODY, **{"X-Correlation-ID": mine}).json()["order_id"]
    assert (
        post(
            clerk,
            f"/api/orders/{second}/items/",
            {"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"},
            **{"X-Correlation-ID": mine.upper()},
        ).status_code
        == 200
    )
    one = clerk.get(f"/api/orders/{second}/history/?correlation={mine}").json()["results"]
    assert [entry["event_type"] for entry in one] == ["OrderCreated", "OrderItemAdded"]
    assert {entry["metadata"]["correlation_id"] for entry in one} == {mine}


def test_the_story_shows_personal_data_as_the_history_does_and_null_once_forgotten(
    admin_client_api: APIClient,
) -> None:
    address = {"name": "Ilse Story", "line1": "Tale Road 1", "postal_code": "1", "city": "Ulm", "country": "DE"}
    personal = {"customer_email": "story-2m@example.org", "shipping_address": address}
    body = {**ORDER_BODY, "customer_id": "c-story", **personal}
    order_id = post(admin_client_api, "/api/orders/", body).json()["order_id"]

    def created(story: bool) -> dict[str, Any]:
        query = "?story=true" if story else ""
        results = admin_client_api.get(f"/api/orders/{order_id}/history/{query}").json()["results"]
        data: dict[str, Any] = results[0]["data"]
        return data

    assert created(story=True) == created(story=False)
    assert (created(story=True)["customer_email"], created(story=True)["shipping_address"]["name"]) == (
        "story-2m@example.org",
        "Ilse Story",
    )
    assert "personal" not in created(story=True)

    assert post(admin_client_api, "/api/customers/c-story/forget/").status_code == 200
    assert created(story=True) == created(story=False)
    assert created(story=True)["customer_email"] is None
