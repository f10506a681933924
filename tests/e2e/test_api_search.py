"""The order search of the REST contract (`?q=`, `?total_min=&total_max=`): served from the
read model, every field findable by a part of a word in any case, bad input a 400."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from projector.loop import read_database
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderSummary, SearchPosting, SearchWord
from readmodels.projections.search_words import write_words
from readmodels.search import SEARCH_COUNT_LIMIT
from readmodels.selectors.order_search import matching, sorted_matches_sql, walk_sql
from readmodels.selectors.orders import order_summary_list
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
        # Across the characters joining an identifier's parts (the trigram index sees a letter
        # there, readmodels/search.py): found, and the letter itself is no match.
        ("a.lovelace@ex", {"ada"}),
        ("-ada-7", {"ada"}),
        ("mer-x", {"ada"}),
        ("l-10", {"bob"}),
        ("aqlove", set()),
        ("nailq1", set()),
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


def _plan(cursor: Any, sql: str, params: Any) -> str:
    cursor.execute(f"EXPLAIN {sql}", params)
    return "\n".join(row[0] for row in cursor.fetchall())


def test_the_search_reads_its_indexes_on_postgresql() -> None:
    connection = connections[read_database()]
    table = OrderSummary._meta.db_table
    with connection.cursor() as cursor:
        # 30,000 rows (enough that the planner prices a scan of every row above the index):
        # every one has the words `c` and `0` (which pg_trgm would look up for `c-0` over the
        # plain text), one is the customer looked for, 1,500 old ones share the word `gizmo`.
        cursor.execute(
            f"INSERT INTO {table} (order_id, order_number, customer_id, status, item_count, total_amount, "
            "currency, created_at, updated_at, version, search_text) "
            "SELECT gen_random_uuid(), 'ORD-' || lpad(i::text, 7, '0'), 'c-' || i, 'PENDING', 1, 1, 'EUR', "
            "now() - make_interval(secs => i), now(), 1, 'ord-' || lpad(i::text, 7, '0') || ' c-' || i || ' ' || "
            "CASE WHEN i = 777 THEN 'ada.lovelace@example.com' WHEN i > 28500 THEN 'gizmo-' || i "
            "ELSE md5(i::text) END || ' sku-' || (i % 7) || '-0' "
            "FROM generate_series(1, 30000) AS i"
        )
        # The words the projection would have written for them (search_words.py).
        write_words(connection.alias, list(OrderSummary.objects.values("order_id", "created_at", "search_text")), {})
        # As autovacuum leaves a live table: its pages all-visible, so an index-only scan pays.
        for vacuumed in (table, SearchWord._meta.db_table, SearchPosting._meta.db_table):
            cursor.execute(f"VACUUM ANALYZE {vacuumed}")
        for text, customer in (("lovelace@", "c-777"), ("c-777 ", "c-777"), ("c-2999", "c-2999")):
            rows: Any = order_summary_list(text=text)
            # The count and the sort of the matches in one statement, through the trigram index;
            # then a page of them by primary key.
            counted = _plan(cursor, *sorted_matches_sql(matching(OrderSummary.objects.all(), text), ("-created_at",)))
            assert "summary_search_trgm_idx" in counted, counted
            assert "Seq Scan" not in counted, counted
            assert rows[0:50][0].customer_id == customer
        page = OrderSummary.objects.order_by().filter(order_id__any=[row.order_id for row in rows[0:50]])
        assert "readmodels_ordersummary_pkey" in _plan(cursor, *page.query.sql_with_params())
        # Past the count's limit, a page walks the newest first reading the walk index only,
        # for old matches (`gizmo`) as for common ones the planner prices as rare: one order
        # in seven has `sku-3-0`, but `sku-3` is in none of the column's sampled values, so
        # it estimates a few rows, and asked directly it sorted the whole table instead.
        many: Any = order_summary_list(text="gizmo")
        assert (len(many), many.count_exact) == (SEARCH_COUNT_LIMIT, False)
        assert [row.customer_id for row in many[0:3]] == ["c-28501", "c-28502", "c-28503"]
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN search_text SET STATISTICS 1")
        try:
            cursor.execute(f"ANALYZE {table}")
            for text in ("gizmo", "sku-3"):
                plan = _plan(cursor, *walk_sql(OrderSummary.objects.all(), text, ("-created_at",), 50, 50))
                assert "Index Only Scan using summary_search_walk_idx" in plan, plan
                assert "Sort" not in plan, plan
                assert "Seq Scan" not in plan, plan
        finally:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN search_text SET STATISTICS -1")
        common: Any = order_summary_list(text="sku-3")
        assert (len(common), common.count_exact) == (SEARCH_COUNT_LIMIT, False)
        assert [row.customer_id for row in common[1:3]] == ["c-10", "c-17"]
