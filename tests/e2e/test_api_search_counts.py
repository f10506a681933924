"""The search's bounded count over HTTP, on PostgreSQL: `count` is exact up to 1,000 matches
and `count_exact` true; past that `count` is 1000, `count_exact` false, and the pages reach the
first 1,000 matches in the list's order (the newest first by default), not just any 1,000.
Every list answer says whether its count is exact."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from readmodels.models import ProductStock
from readmodels.search import SEARCH_COUNT_LIMIT
from tests.support.search_rows import summary_rows

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]


rows = summary_rows


def page(client: APIClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/orders/", params)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def test_more_than_a_thousand_matches_count_as_a_thousand_and_pages_reach_the_newest_thousand(
    admin_client_api: APIClient,
) -> None:
    common = rows(SEARCH_COUNT_LIMIT + 150, word="widget")
    newest = [str(row.order_id) for row in reversed(common)][:SEARCH_COUNT_LIMIT]
    first = page(admin_client_api, q="widget", page_size=200)
    assert (first["count"], first["count_exact"]) == (SEARCH_COUNT_LIMIT, False)
    shown = [
        row["order_id"]
        for number in range(1, 6)
        for row in page(admin_client_api, q="WIDG", page=number, page_size=200)["results"]
    ]
    assert shown == newest
    beyond = admin_client_api.get("/api/orders/", {"q": "widget", "page": "6", "page_size": "200"})
    assert beyond.status_code == 404
    assert beyond["Content-Type"] == "application/problem+json"
    oldest = page(admin_client_api, q="widget", ordering="created_at")
    assert oldest["results"][0]["order_id"] == str(common[0].order_id)


def test_up_to_a_thousand_matches_are_counted_exactly_and_paged_in_order(admin_client_api: APIClient) -> None:
    rows(SEARCH_COUNT_LIMIT + 10, word="noise")
    exactly = rows(SEARCH_COUNT_LIMIT, word="gadget")
    few = rows(7, word="gizmo")
    answer = page(admin_client_api, q="gadget", page_size=200, page=5)
    assert (answer["count"], answer["count_exact"], answer["next"]) == (SEARCH_COUNT_LIMIT, True, None)
    assert [row["order_id"] for row in answer["results"]] == [str(row.order_id) for row in reversed(exactly)][800:]
    answer = page(admin_client_api, q="gizmo", ordering="-total_amount,created_at")
    assert (answer["count"], answer["count_exact"]) == (7, True)
    assert [row["order_id"] for row in answer["results"]] == [str(row.order_id) for row in few]
    assert page(admin_client_api, q="nothing-matches-this")["results"] == []
    assert page(admin_client_api, q="nothing-matches-this")["count_exact"] is True


def test_a_search_narrowed_by_status_counts_only_what_still_matches(admin_client_api: APIClient) -> None:
    pending = rows(5, word="sprocket")
    rows(SEARCH_COUNT_LIMIT, word="sprocket", status="PAID")
    answer = page(admin_client_api, q="sprocket", status="PENDING")
    assert (answer["count"], answer["count_exact"]) == (5, True)
    assert {row["order_id"] for row in answer["results"]} == {str(row.order_id) for row in pending}
    answer = page(admin_client_api, q="sprocket", status="PAID")
    assert (answer["count"], answer["count_exact"]) == (SEARCH_COUNT_LIMIT, True)
    answer = page(admin_client_api, q="sprocket")
    assert (answer["count"], answer["count_exact"]) == (SEARCH_COUNT_LIMIT, False)


def test_a_list_without_a_search_counts_exactly_past_a_thousand(admin_client_api: APIClient) -> None:
    rows(SEARCH_COUNT_LIMIT + 20, word="bolt", customer_id="c-many")
    answer = page(admin_client_api, customer_id="c-many")
    assert (answer["count"], answer["count_exact"]) == (SEARCH_COUNT_LIMIT + 20, True)
    assert set(page(admin_client_api)) == {"count", "count_exact", "next", "previous", "results"}


def test_the_product_search_says_whether_its_count_is_exact(admin_client_api: APIClient) -> None:
    ProductStock.objects.bulk_create(
        ProductStock(sku=f"BULK-{n:05d}", name="Bulk", price="1.00", updated_at="2026-01-01T00:00:00Z", version=1)
        for n in range(SEARCH_COUNT_LIMIT + 5)
    )
    many = admin_client_api.get("/api/products/", {"q": "bulk"}).json()
    assert (many["count"], many["count_exact"]) == (SEARCH_COUNT_LIMIT, False)
    few = admin_client_api.get("/api/products/", {"q": "BULK-0000"}).json()
    assert (few["count"], few["count_exact"]) == (10, True)
    listed = admin_client_api.get("/api/products/").json()
    assert (listed["count"], listed["count_exact"]) == (SEARCH_COUNT_LIMIT + 5, True)
