"""The order search of the REST contract (`?q=`, `?total_min=&total_max=`): served from the
read model, every field findable by a part of a word in any case, bad input a 400."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from projector.loop import read_database
from projector.rebuild import rebuild_by_name
from readmodels.models import OrderSummary
from readmodels.search import SEARCH_COUNT_LIMIT
from readmodels.selectors.orders import matching, order_summary_list
from tests.factories import AddressFactory, ChangeShippingAddressFactory, CreateOrderFactory, LineItemFactory
from tests.support.http import problem
from writeside.bus import handle

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]


def found(client: APIClient, **params: str) -> set[str]:
    """The order numbers the list answers for `params` (one page is enough here)."""
    response = client.get("/api/orders/", params)
    assert response.status_code == 200, response.content
    page = response.json()
    assert page["count"] == len(page["results"])
    return {row["order_number"] for row in page["results"]}


def placed(**fields: Any) -> str:
    """Place an order through the bus; its order number once projected."""
    create = CreateOrderFactory(**fields)
    handle(create)
    return OrderSummary.objects.get(order_id=create.order_id).order_number


@pytest.fixture
def orders() -> dict[str, str]:
    """Three orders that differ in every searchable field."""
    return {
        "ada": placed(
            customer_id="cust-Ada-77",
            customer_email="Ada.Lovelace@Example.com",
            items=(LineItemFactory(sku="HAMMER-XL", quantity=1, unit_price=Decimal("12.50")),),
            shipping_address=AddressFactory(name="Ada Lovelace", city="Düsseldorf"),
        ),
        "bob": placed(
            customer_id="cust-bob-12",
            customer_email="bob@builder.example",
            items=(LineItemFactory(sku="NAIL-100", quantity=4, unit_price=Decimal("25.00")),),
            shipping_address=AddressFactory(name="Bob Baumeister", city="Köln"),
        ),
        # Placed before addresses and e-mails existed: found by what it has.
        "old": placed(customer_id="legacy-9", items=(LineItemFactory(sku="SAW-2", quantity=1),)),
    }


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("cust-ada", {"ada"}),  # customer id, other case
        ("ADA-7", {"ada"}),  # partial
        ("lovelace@exam", {"ada"}),  # e-mail, partial, other case
        ("BUILDER", {"bob"}),
        ("hammer", {"ada"}),  # SKU
        ("nail-1", {"bob"}),
        ("saw", {"old"}),
        ("baumeist", {"bob"}),  # shipping name, partial
        ("DÜSSEL", {"ada"}),  # city, non-ASCII, other case
        ("köln", {"bob"}),
        ("cust", {"ada", "bob"}),  # two orders share it
        ("cust köln", {"bob"}),  # every word must match
        ("zzz-nobody", set()),
    ],
)
def test_q_finds_orders_by_each_field_in_any_case_and_part(
    admin_client_api: APIClient, orders: dict[str, str], text: str, who: set[str]
) -> None:
    assert found(admin_client_api, q=text) == {orders[name] for name in who}


def test_q_finds_by_order_number_and_follows_an_address_change(
    admin_client_api: APIClient, orders: dict[str, str]
) -> None:
    number = orders["bob"]
    assert found(admin_client_api, q=number.lower()) == {number}
    order_id = OrderSummary.objects.get(order_number=number).order_id
    handle(ChangeShippingAddressFactory(order_id=order_id, shipping_address=AddressFactory(city="Bremen")))
    assert found(admin_client_api, q="bremen") == {number}
    assert found(admin_client_api, q="köln") == set()


def test_total_range_filters_and_combines_with_q_and_status(
    admin_client_api: APIClient, orders: dict[str, str]
) -> None:
    # Totals: ada 12.50, bob 100.00, old whatever SAW-2 costs (at most 120.00).
    assert found(admin_client_api, total_min="100.00", total_max="100") == {orders["bob"]}
    assert found(admin_client_api, total_max="12.5") >= {orders["ada"]}
    assert orders["bob"] not in found(admin_client_api, total_max="99.99")
    assert found(admin_client_api, q="cust", total_min="13") == {orders["bob"]}
    assert found(admin_client_api, q="cust", status="PENDING", total_max="50") == {orders["ada"]}
    assert found(admin_client_api, q="cust", status="PAID") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"total_min": "ten"}, "total_min"),
        ({"total_max": "1.2345"}, "total_max"),  # amounts have at most 3 decimals
        ({"total_min": "NaN"}, "total_min"),
        ({"total_max": "Infinity"}, "total_max"),
        ({"total_min": "-1"}, "total_min"),
        ({"total_min": "1" * 20}, "total_min"),
        ({"total_min": "20.00", "total_max": "10.00"}, "total_min"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a b c d e f g h i"}, "q"),  # more than 8 words
        ({"q": "ada\x00"}, "q"),  # PostgreSQL refuses a NUL in a query
    ],
)
def test_bad_search_parameters_are_400_problems(
    admin_client_api: APIClient, orders: dict[str, str], params: dict[str, str], field: str
) -> None:
    body = problem(admin_client_api.get("/api/orders/", params), 400)
    assert field in body["errors"]


def test_wildcards_in_q_are_plain_characters(admin_client_api: APIClient, orders: dict[str, str]) -> None:
    assert found(admin_client_api, q="%") == set()
    assert found(admin_client_api, q="_") == set()
    assert found(admin_client_api, q="cust-___-") == set()


def test_search_text_after_a_rebuild_equals_the_live_one(orders: dict[str, str]) -> None:
    live = dict(OrderSummary.objects.values_list("order_id", "search_text"))
    assert all(live.values())
    rebuild_by_name(["orders"])
    assert dict(OrderSummary.objects.values_list("order_id", "search_text")) == live


def test_the_search_reads_the_trigram_index_on_postgresql() -> None:
    connection = connections[read_database()]
    table = OrderSummary._meta.db_table
    with connection.cursor() as cursor:
        # 30,000 rows (enough that the planner prices a scan of every row above the index),
        # one of them the customer looked for.
        cursor.execute(
            f"INSERT INTO {table} (order_id, order_number, customer_id, status, item_count, total_amount, "
            "currency, created_at, updated_at, version, search_text) "
            "SELECT gen_random_uuid(), 'ORD-' || lpad(i::text, 7, '0'), 'c-' || i, 'PENDING', 1, 1, 'EUR', "
            "now(), now(), 1, 'ord-' || lpad(i::text, 7, '0') || ' c-' || i || ' ' || "
            "CASE WHEN i = 777 THEN 'ada.lovelace@example.com' ELSE md5(i::text) END "
            "FROM generate_series(1, 30000) AS i"
        )
        cursor.execute(f"ANALYZE {table}")
        rows: Any = order_summary_list(text="lovelace")
        # The matches as order_summary_list reads them (unsorted, up to the count's limit),
        # then a page of them by primary key.
        counted = matching(OrderSummary.objects.order_by(), "lovelace").values_list("order_id", "created_at")
        page = OrderSummary.objects.order_by().filter(order_id__any=[row.order_id for row in rows[0:50]])
        for queryset, index in (
            (counted[: SEARCH_COUNT_LIMIT + 1], "summary_search_trgm_idx"),
            (page, "readmodels_ordersummary_pkey"),
        ):
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert index in plan, plan
            assert "Sort" not in plan, plan
    assert [row.customer_id for row in rows[0:50]] == ["c-777"]
