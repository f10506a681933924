"""Every query row of the REST contract: read models, read-your-writes, history, as_of."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.contrib.staticfiles import finders
from django.db import connections
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from projector.loop import all_partitions
from projector.rebuild_progress import rebuild_by_name
from projector.running import run_partition
from projector.status import wait_until_applied
from readmodels.api import views
from tests.support.http import ORDER_BODY, history_pages
from tests.support.workload import churn

# Real commits (on_commit projections run), projections in-process, throttles in a private cache.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]
SUMMARY_KEYS = {
    "order_id",
    "order_number",
    "customer_id",
    "status",
    "item_count",
    "total_amount",
    "currency",
    "created_at",
    "updated_at",
    "version",
    "customer_name",
    "customer_email",
    "refund_due",
    "refunded",
}


def test_list_filters_orders_and_pages(admin_client_api: APIClient, place: Callable[..., Any], inline: None) -> None:
    ids = [place(customer_id=f"c-{n % 2}")["order_id"] for n in range(5)]
    admin_client_api.post(f"/api/orders/{ids[0]}/confirm/")
    page = admin_client_api.get("/api/orders/").json()
    assert page["count"] == 5
    assert set(page) == {"count", "count_exact", "next", "previous", "results"}
    assert page["count_exact"] is True
    assert set(page["results"][0]) == SUMMARY_KEYS
    assert page["results"][0]["order_id"] == ids[-1]  # newest first by default
    assert page["results"][0]["total_amount"] == "19.98"
    assert admin_client_api.get("/api/orders/?status=CONFIRMED").json()["count"] == 1
    assert admin_client_api.get("/api/orders/?customer_id=c-1").json()["count"] == 2
    oldest_first = admin_client_api.get("/api/orders/?ordering=created_at").json()["results"]
    assert oldest_first[0]["order_id"] == ids[0]
    first = StoredEvent.objects.order_by("position").first()
    assert first is not None
    after = (first.recorded_at + timedelta(microseconds=1)).isoformat()
    assert admin_client_api.get("/api/orders/", {"created_after": after}).json()["count"] == 4
    assert admin_client_api.get("/api/orders/", {"created_before": after}).json()["count"] == 1
    paged = admin_client_api.get("/api/orders/?page_size=2&page=2").json()
    assert len(paged["results"]) == 2
    assert paged["next"]
    assert paged["previous"]


def test_detail_has_lines_timeline_and_an_etag(
    admin_client_api: APIClient, place: Callable[..., Any], inline: None
) -> None:
    order = place()["order_id"]
    admin_client_api.post(f"/api/orders/{order}/confirm/")
    response = admin_client_api.get(f"/api/orders/{order}/")
    detail = response.json()
    assert response["ETag"] == '"2"'
    assert set(detail) > SUMMARY_KEYS
    assert detail["items"] == [
        {"sku": "SKU-1", "name": None, "quantity": 2, "unit_price": "9.99", "line_total": "19.98", "returned": 0}
    ]
    assert [e["event_type"] for e in detail["timeline"]] == ["OrderCreated", "OrderConfirmed"]
    assert detail["timeline"][0]["occurred_at"].endswith("Z") or "+" in detail["timeline"][0]["occurred_at"]
    not_modified = admin_client_api.get(f"/api/orders/{order}/", headers={"If-None-Match": '"2"'})
    assert not_modified.status_code == 304


def test_the_detail_keeps_the_latest_timeline_entries_live_rebuilt_and_as_of(
    admin_client_api: APIClient, place: Callable[..., Any], settings: Any
) -> None:
    settings.ORDER_TIMELINE_ENTRIES = 3
    order = place()["order_id"]
    churn(UUID(order), 3)
    admin_client_api.post(f"/api/orders/{order}/confirm/")
    detail = admin_client_api.get(f"/api/orders/{order}/").json()
    assert [entry["version"] for entry in detail["timeline"]] == [6, 7, 8]
    assert detail["timeline"][-1]["event_type"] == "OrderConfirmed"
    assert detail["timeline_count"] == 8
    now = admin_client_api.get(f"/api/orders/{order}/", {"as_of": datetime.now(UTC).isoformat()}).json()
    assert (now["timeline"], now["timeline_count"]) == (detail["timeline"], 8)
    rebuild_by_name(["orders"])
    assert admin_client_api.get(f"/api/orders/{order}/").json() == detail


def test_detail_is_404_until_projected_and_stale_is_flagged(admin_client_api: APIClient, settings: Any) -> None:
    settings.PROJECTIONS_INLINE = False
    settings.EVENT_SUBSCRIBERS = []  # nothing projects: the read side lags behind
    settings.READ_YOUR_WRITES_TIMEOUT = 0.2
    created = admin_client_api.post(
        "/api/orders/",
        {"customer_id": "c", "currency": "EUR", "items": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}]},
        format="json",
    ).json()
    assert admin_client_api.get(f"/api/orders/{created['order_id']}/").status_code == 404
    stale = admin_client_api.get(f"/api/orders/?min_position={created['position']}")
    assert stale.status_code == 200
    assert stale["X-Read-Model-Stale"] == "true"


def test_min_position_waits_for_the_write(admin_client_api: APIClient, place: Callable[..., Any], inline: None) -> None:
    created = place()
    fresh = admin_client_api.get(f"/api/orders/{created['order_id']}/?min_position={created['position']}")
    assert fresh.status_code == 200
    assert "X-Read-Model-Stale" not in fresh


def test_history_lists_the_events_from_the_log(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    admin_client_api.post(f"/api/orders/{order}/cancel/", {"reason": "r"}, format="json")
    history = admin_client_api.get(f"/api/orders/{order}/history/").json()
    assert set(history) == {"results", "next"}
    assert history["next"] is None
    results = history["results"]
    assert [(e["event_type"], e["version"]) for e in results] == [("OrderCreated", 1), ("OrderCancelled", 2)]
    assert set(results[0]) == {"event_id", "event_type", "version", "position", "occurred_at", "data", "metadata"}
    assert results[1]["data"]["reason"] == "r"
    assert results[1]["metadata"]["user"] == "boss"


def test_history_is_paged_and_next_links_the_rest(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    churn(UUID(order), 50)  # 101 events
    first = admin_client_api.get(f"/api/orders/{order}/history/").json()
    assert [entry["version"] for entry in first["results"]] == list(range(1, 101))
    assert first["next"] == f"http://testserver/api/orders/{order}/history/?after_version=100"
    assert [entry["version"] for entry in admin_client_api.get(first["next"]).json()["results"]] == [101]
    pages = history_pages(admin_client_api, f"/api/orders/{order}/history/?limit=40&min_position=1")
    assert [len(page["results"]) for page in pages] == [40, 40, 21]
    assert "limit=40" in pages[0]["next"]
    assert "min_position=1" in pages[0]["next"]
    assert [entry["version"] for page in pages for entry in page["results"]] == list(range(1, 102))
    past_the_end = admin_client_api.get(f"/api/orders/{order}/history/?after_version=500").json()
    assert past_the_end == {"results": [], "next": None}


def test_history_paging_parameters_are_validated(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    path = f"/api/orders/{place()['order_id']}/history/"
    for query, field in (
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=%C2%B2", "limit"),
        ("after_version=-1", "after_version"),
        ("after_version=2147483648", "after_version"),
        ("after_position=3", "after_position"),
        ("story=true&after_version=3", "after_version"),
        ("story=true&after_position=9223372036854775808", "after_position"),
    ):
        response = admin_client_api.get(f"{path}?{query}")
        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/problem+json"
        assert list(response.json()["errors"]) == [field], query
    assert admin_client_api.get(f"{path}?limit=1000&after_version=2147483647").json()["results"] == []
    unknown = "/api/orders/00000000-0000-0000-0000-000000000000/history/?after_version=3"
    assert admin_client_api.get(unknown).status_code == 404


def test_as_of_rebuilds_the_order_at_an_instant(
    admin_client_api: APIClient, place: Callable[..., Any], inline: None
) -> None:
    order = place()["order_id"]
    created_at = StoredEvent.objects.get().recorded_at
    admin_client_api.post(f"/api/orders/{order}/confirm/")
    then = admin_client_api.get(f"/api/orders/{order}/", {"as_of": created_at.isoformat()}).json()
    assert (then["status"], then["version"]) == ("PENDING", 1)
    assert admin_client_api.get(f"/api/orders/{order}/").json()["status"] == "CONFIRMED"
    before = (created_at - timedelta(seconds=1)).isoformat()
    assert admin_client_api.get(f"/api/orders/{order}/", {"as_of": before}).status_code == 404


def test_customer_stats_count_lifetime_value_of_paid_not_cancelled(
    admin_client_api: APIClient, place: Callable[..., Any], inline: None
) -> None:
    kept, refunded = place(customer_id="c-9")["order_id"], place(customer_id="c-9")["order_id"]
    place(customer_id="c-9")
    for order in (kept, refunded):
        admin_client_api.post(f"/api/orders/{order}/confirm/")
        admin_client_api.post(f"/api/orders/{order}/pay/", {"payment_id": "p", "amount": "19.98"}, format="json")
    admin_client_api.post(f"/api/orders/{refunded}/cancel/", {"reason": "r"}, format="json")
    stats = admin_client_api.get("/api/customers/c-9/stats/").json()
    assert stats["orders_count"] == 3
    assert stats["open_orders_count"] == 2
    assert stats["cancelled_orders_count"] == 1
    assert stats["lifetime_value"] == {"EUR": "19.98"}
    assert stats["last_order_at"]
    assert admin_client_api.get("/api/customers/nobody/stats/").status_code == 404


def test_if_none_match_accepts_weak_tags_lists_and_star(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    path = f"/api/orders/{place()['order_id']}/"
    for header in ('W/"1"', '"7", "1"', "*"):
        response = admin_client_api.get(path, headers={"If-None-Match": header})
        assert (response.status_code, response["ETag"]) == (304, '"1"'), header
    assert admin_client_api.get(path, headers={"If-None-Match": '"2"'}).status_code == 200


def test_min_position_waits_until_a_lagging_projection_catches_up(
    admin_client_api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.EVENT_SUBSCRIBERS = []  # commits ring nobody: the read side lags until caught up below
    created = admin_client_api.post("/api/orders/", ORDER_BODY, format="json").json()
    path = f"/api/orders/{created['order_id']}/"
    assert admin_client_api.get(path).status_code == 404

    waiting = threading.Event()
    real_wait = wait_until_applied

    def wait_and_announce(position: int, timeout: float, **options: Any) -> bool:
        waiting.set()
        return real_wait(position, timeout, **options)

    def project_once_the_query_waits() -> None:
        try:
            assert waiting.wait(timeout=10)
            for partition in all_partitions():
                while run_partition(partition):
                    pass
        finally:
            connections.close_all()  # this thread's connections to every database

    monkeypatch.setattr(views, "wait_until_applied", wait_and_announce)
    settings.READ_YOUR_WRITES_TIMEOUT = 10.0
    worker = threading.Thread(target=project_once_the_query_waits)
    worker.start()
    try:
        fresh = admin_client_api.get(path, {"min_position": created["position"]})
    finally:
        worker.join(timeout=20)
    assert fresh.status_code == 200
    assert "X-Read-Model-Stale" not in fresh
    assert fresh.json()["version"] == 1


def test_history_validates_min_position(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    created = place()
    path = f"/api/orders/{created['order_id']}/history/"
    assert admin_client_api.get(path, {"min_position": created["position"]}).status_code == 200
    assert admin_client_api.get(path, {"min_position": "soon"}).status_code == 400


def test_the_schema_and_its_docs_are_served_offline(admin_client_api: APIClient) -> None:
    schema = admin_client_api.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/orders/", "/api/orders/{order_id}/items/{sku}/", "/api/customers/{customer_id}/stats/"} <= set(paths)
    docs = admin_client_api.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page  # assets come from drf-spectacular-sidecar, not the internet
    assets = re.findall(r"/static/(drf_spectacular_sidecar/[^\"']+\.js)", page)
    assert assets
    assert all(finders.find(asset) for asset in assets)  # shipped in the sidecar package


def test_amounts_have_exactly_two_decimals_and_times_a_timezone(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    lines = [{"sku": "A", "quantity": 3, "unit_price": "5"}, {"sku": "B", "quantity": 1, "unit_price": "0.5"}]
    order = place(items=lines)
    detail = admin_client_api.get(f"/api/orders/{order['order_id']}/").json()
    assert detail["total_amount"] == "15.50"
    amounts = [(line["unit_price"], line["line_total"]) for line in detail["items"]]
    assert amounts == [("5.00", "15.00"), ("0.50", "0.50")]
    for instant in (detail["created_at"], detail["updated_at"], detail["timeline"][0]["occurred_at"]):
        assert datetime.fromisoformat(instant).tzinfo is not None
    summary = admin_client_api.get("/api/orders/").json()["results"][0]
    assert (summary["total_amount"], summary["item_count"]) == ("15.50", 4)
