"""The embedded default (SQLite, no broker): read models follow commands in-process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from uuid import uuid4

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from orders.commands import ConfirmOrder, CreateOrder, LineItem, PayOrder
from projector.rebuild_progress import rebuild_by_name
from projector.status import projection_status
from readmodels.models import CustomerLifetimeValue, OrderDetail, OrderSummary
from readmodels.search import SEARCH_COUNT_LIMIT
from tests.factories import CreateOrderFactory, OrderSummaryRowFactory
from tests.support.concurrency import in_thread
from tests.support.http import ORDER_BODY
from writeside.bus import handle

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


def test_embedded_default_is_sqlite_with_inline_projections() -> None:
    assert connection.vendor == "sqlite"
    assert settings.PROJECTIONS_INLINE
    assert not settings.CELERY_BROKER_URL


def test_commands_update_read_models_after_commit_and_rebuild_gives_the_same() -> None:
    create = CreateOrder(
        customer_id="c-7",
        currency="EUR",
        items=(LineItem(sku="A", quantity=2, unit_price=Decimal("4.50")),),
        customer_email="c7@example.com",
    )
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id))
    result = handle(PayOrder(order_id=create.order_id, payment_id="p-1", amount=Decimal("9.00")))
    summary = OrderSummary.objects.get(order_id=create.order_id)
    assert (summary.status, summary.version, summary.total_amount) == ("PAID", 3, Decimal("9.00"))
    assert CustomerLifetimeValue.objects.get(customer_id="c-7").amount == Decimal("9.00")
    assert all(status.lag_events == 0 and status.position == result.position for status in projection_status())
    assert [(message.to, message.subject.split()[-2:]) for message in mail.outbox] == [
        (["c7@example.com"], ["is", "confirmed"])
    ]
    detail = list(OrderDetail.objects.values())
    rebuild_by_name([])
    assert list(OrderDetail.objects.values()) == detail


def test_a_command_commits_while_a_reader_holds_a_read_transaction_open() -> None:
    """WAL (config/settings.py): in SQLite's default rollback journal a reader's open
    transaction holds off every commit, so the command below would wait out its 20 s timeout
    and fail with "database is locked" while the admin or a projector was reading."""
    first = CreateOrder(
        customer_id="c-r", currency="EUR", items=(LineItem(sku="A", quantity=1, unit_price=Decimal("1")),)
    )
    handle(first)
    reading, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_a_read_transaction() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT count(*) FROM readmodels_ordersummary")
            cursor.fetchone()
            reading.set()
            release.wait(60)  # the read transaction stays open until the command has committed
            cursor.execute("COMMIT")

    reader = in_thread(hold_a_read_transaction, errors)
    try:
        assert reading.wait(30)
        second = CreateOrder(customer_id="c-r", currency="EUR", items=first.items)
        handle(second)  # commits while the reader's transaction is still open
        assert OrderSummary.objects.filter(customer_id="c-r").count() == 2
    finally:
        release.set()
        reader.join(60)
    assert not errors, errors


class Abandoned(Exception):
    """Raised inside a transaction to roll it back."""


@contextmanager
def lock_timeout(seconds: float) -> Iterator[None]:
    """Connections opened inside wait `seconds` for the write lock (the suite's own after)."""
    options = [database["OPTIONS"] for database in connections.settings.values()]
    saved = [dict(option) for option in options]
    for option in options:
        option["timeout"] = seconds
    connections.close_all()
    try:
        yield
    finally:
        for option, before in zip(options, saved, strict=True):
            option.clear()
            option.update(before)
        connections.close_all()


def test_a_write_transaction_lets_the_next_writer_in_however_it_ends() -> None:
    """config/sqlite serves one process's writers in turn: each write transaction holds the
    process's lock for its database until it ends. Ended by a rollback, by a connection closed
    inside it, or by a commit, the next writer (the same thread, then another) must get in at
    once; a lock left held would make it wait out the timeout (2 s here) and fail "database is
    locked"."""

    def rolled_back() -> None:
        with suppress(Abandoned), transaction.atomic():
            handle(CreateOrderFactory())
            raise Abandoned

    def closed_inside() -> None:
        with transaction.atomic():
            handle(CreateOrderFactory())
            connections["default"].close()  # as a worker thread dying mid-request would

    def committed() -> None:
        handle(CreateOrderFactory())

    def then_write(end: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            end()
            handle(CreateOrderFactory())  # the same thread, on its connection

        return run

    with lock_timeout(2):
        for end in (rolled_back, closed_inside, committed):
            errors: list[BaseException] = []
            in_thread(then_write(end), errors).join(30)
            in_thread(committed, errors).join(30)
            assert not errors, (end.__name__, errors)


def test_stories_and_client_correlation_ids_on_the_embedded_default(
    admin_client_api: APIClient, make_client: Callable[..., APIClient]
) -> None:
    story = str(uuid4())
    header = {"X-Correlation-ID": story}
    created = admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers=header)
    assert created.status_code == 201, created.content
    order_id = created.json()["order_id"]
    assert admin_client_api.post(f"/api/orders/{order_id}/confirm/", format="json", headers=header).status_code == 200
    refused = make_client("place_order").post("/api/orders/", ORDER_BODY, format="json", headers=header)
    assert refused.status_code == 400, refused.content
    assert list(refused.json()["errors"]) == ["X-Correlation-ID"]
    told = admin_client_api.get(f"/api/orders/{order_id}/history/?story=true")
    assert told.status_code == 200, told.content
    assert [entry["event_type"] for entry in told.json()["results"]] == ["OrderCreated", "OrderConfirmed"]


def test_the_order_search_works_on_sqlite(admin_client_api: APIClient) -> None:
    body = {**ORDER_BODY, "customer_email": "Ada.Lovelace@Example.com"}
    ada = admin_client_api.post("/api/orders/", body, format="json").json()["order_id"]
    admin_client_api.post("/api/orders/", ORDER_BODY, format="json")
    page = admin_client_api.get("/api/orders/", {"q": "LOVELACE@exa", "total_min": "19.98"}).json()
    assert [row["order_id"] for row in page["results"]] == [ada]
    assert page["count"] == 1
    assert admin_client_api.get("/api/orders/", {"q": "lovelace", "total_max": "19.97"}).json()["count"] == 0


def test_a_search_past_the_count_limit_pages_the_newest_matches_on_sqlite(admin_client_api: APIClient) -> None:
    rows = OrderSummary.objects.bulk_create(OrderSummaryRowFactory.build_batch(SEARCH_COUNT_LIMIT + 5, word="gizmo-x"))
    OrderSummary.objects.bulk_create(OrderSummaryRowFactory.build_batch(3, word="other"))
    page = admin_client_api.get("/api/orders/", {"q": "IZMO-", "page": "2", "page_size": "10"}).json()
    assert (page["count"], page["count_exact"]) == (SEARCH_COUNT_LIMIT, False)
    assert [row["order_id"] for row in page["results"]] == [str(row.order_id) for row in reversed(rows)][10:20]
