"""/metrics, parsed with prometheus_client's own parser: the command, event, doorbell, task and
throttle counters move when those things happen, and lag and dead letters are read from the
database at scrape time. Also the audit trail a command leaves, refused ones with their reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from audit.models import CommandAudit
from orders.commands import ConfirmOrder
from projector import running
from projector.loop import Projector, all_partitions
from projector.tasks import project_partition
from tests.support.faults import closed_port
from tests.support.http import ORDER_BODY
from tests.support.scenarios import FlakyOrders, create, order, stock
from web import throttles
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_cache")]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(**headers: str) -> Samples:
    response = Client().get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_commands_events_and_doorbells_are_counted_by_type_and_outcome(
    admin_client_api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PROJECTIONS_INLINE = False  # commands ring the doorbell; no worker answers it
    monkeypatch.setattr(running, "_broker_down_until", 0.0)
    before = scrape()
    key = {"Idempotency-Key": "metrics-1"}
    created = admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers=key)
    assert created.status_code == 201, created.content
    repeat = admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers=key)
    assert repeat.status_code == 201
    order = created.json()["order_id"]
    refused = admin_client_api.post(f"/api/orders/{order}/pay/", {"payment_id": "p", "amount": "1.00"}, format="json")
    assert refused.status_code in (409, 422), refused.content
    after = scrape()

    counted = "backoffice_commands_total"
    assert moved(before, after, counted, command_type="CreateOrder", outcome="committed") == 1
    assert moved(before, after, counted, command_type="CreateOrder", outcome="duplicate") == 1
    assert moved(before, after, counted, command_type="PayOrder", outcome="refused") == 1
    assert moved(before, after, "backoffice_command_duration_seconds_count", command_type="CreateOrder") == 2
    assert moved(before, after, "backoffice_events_appended_total", stream_type="order") == 1
    rung = sum(moved(before, after, "backoffice_doorbells_total", outcome=o) for o in ("sent", "coalesced"))
    assert rung == 1  # one commit, one partition: one ring, sent or coalesced with a waiting one
    # State read from the database now: no worker ran, so the order waits in every projection.
    assert value(after, "backoffice_projection_lag_events", projection="orders") >= 1
    assert value(after, "backoffice_state_scrape_ok") == 1
    # Request metrics from django-prometheus, in the same scrape.
    assert any(name == "django_http_responses_total_by_status_view_method_total" for name, _ in after)


def test_the_audit_trail_holds_a_refused_command_with_its_reason_and_is_append_only(
    admin_client_api: APIClient, admin_client: Client
) -> None:
    created = admin_client_api.post("/api/orders/", ORDER_BODY, format="json")
    order = created.json()["order_id"]
    refused = admin_client_api.post(
        f"/api/orders/{order}/ship/", {"carrier": "dhl", "tracking_number": "T-1"}, format="json"
    )
    assert refused.status_code == 409, refused.content

    record = CommandAudit.objects.get(command_type="ShipOrder")
    assert (record.outcome, record.user, record.source, record.stream_id) == ("refused", "boss", "api", order)
    assert record.reason.startswith("InvalidTransition: ")
    assert record.payload["carrier"] == "dhl"
    committed = CommandAudit.objects.get(command_type="CreateOrder")
    assert (committed.outcome, committed.position) == ("committed", created.json()["position"])

    page = admin_client.get("/admin/audit/commandaudit/", {"outcome": "refused"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [record]
    assert b"InvalidTransition" in page.content
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CommandAudit.objects.filter(pk=record.pk).update(outcome="committed")


def test_a_parked_event_and_task_outcomes_show_in_the_next_scrape(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = False
    settings.EVENT_SUBSCRIBERS = []
    settings.PROJECTION_MAX_ATTEMPTS = 2
    settings.PROJECTION_RETRY_BASE_SECONDS = 0
    before = scrape()
    sick = create()
    handle(ConfirmOrder(order_id=sick))
    projector = Projector(FlakyOrders(poisoned={str(sick)}))
    for partition in all_partitions():
        projector.catch_up(partition)
    projector.retry_due()
    project_partition.apply(args=(0,))  # a task run in this process: its outcome is counted
    after = scrape()

    assert value(after, "backoffice_projection_dead_letters", projection="orders", status="parked") == 1
    assert value(after, "backoffice_projection_dead_letters", projection="orders", status="held") == 1
    task = "projector.project_partition"
    assert moved(before, after, "backoffice_celery_tasks_total", task=task, outcome="succeeded") == 1


def test_throttle_cache_outages_are_counted(
    settings: Any, admin_client_api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}
    }
    monkeypatch.setattr(throttles, "cache_outage", throttles.CacheOutage())
    before = scrape()
    assert admin_client_api.get("/api/orders/").status_code == 200
    after = scrape()
    assert moved(before, after, "backoffice_throttle_cache_failures_total") == 1
    assert moved(before, after, "backoffice_throttle_unthrottled_total") >= 1


def test_a_metrics_token_is_required_when_one_is_set(settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert value(scrape(Authorization="Bearer s3cret-scrape-token"), "backoffice_state_scrape_ok") == 1


def test_queries_go_through_the_query_bus_and_are_counted_by_name_and_outcome(admin_client_api: APIClient) -> None:
    created = admin_client_api.post("/api/orders/", ORDER_BODY, format="json")
    order = created.json()["order_id"]
    before = scrape()
    assert admin_client_api.get(f"/api/orders/{order}/").status_code in (200, 404)
    assert admin_client_api.get(f"/api/orders/{uuid.uuid4()}/").status_code == 404
    assert admin_client_api.get("/api/orders/").status_code == 200
    assert admin_client_api.get("/api/products/SKU-nothing/").status_code == 404
    assert admin_client_api.get(f"/api/orders/{order}/history/").status_code == 200
    assert admin_client_api.get(f"/api/orders/{order}/history/", {"story": "true"}).status_code == 200
    after = scrape()

    assert (
        sum(
            moved(before, after, "backoffice_queries_total", query="GetOrder", outcome=o)
            for o in ("answered", "not_found")
        )
        == 2
    )
    assert moved(before, after, "backoffice_queries_total", query="GetOrder", outcome="not_found") >= 1
    assert moved(before, after, "backoffice_queries_total", query="ListOrders", outcome="answered") == 1
    assert moved(before, after, "backoffice_queries_total", query="GetProduct", outcome="not_found") == 1
    assert moved(before, after, "backoffice_query_duration_seconds_count", query="ListOrders") == 1
    assert moved(before, after, "backoffice_queries_total", query="GetOrderHistory", outcome="answered") == 1
    assert moved(before, after, "backoffice_queries_total", query="GetOrderStory", outcome="answered") == 1


def test_the_process_manager_and_admin_actions_are_audited_too(settings: Any, admin_client: Client) -> None:
    settings.PROJECTIONS_INLINE = True  # the process manager reacts in-process after commit
    stock("SKU-AUDIT", on_hand=3)
    order(("SKU-AUDIT", 1))  # confirmed: the process manager reserves the stock
    reserve = CommandAudit.objects.get(command_type="ReserveStock")
    assert (reserve.source, reserve.outcome, reserve.stream_id) == ("fulfilment", "committed", "product:SKU-AUDIT")
    assert reserve.user == ""  # no user: the process manager acts on its own

    second, _ = order(("SKU-NOT-TRACKED", 1))
    page = admin_client.post(f"/admin/orders/{second}/cancel/", {"reason": "audit"}, follow=True)
    assert page.status_code == 200
    cancel = CommandAudit.objects.get(command_type="CancelOrder", stream_id=str(second))
    assert (cancel.source, cancel.user, cancel.outcome) == ("admin", "admin", "committed")


def test_made_up_methods_and_paths_add_no_series() -> None:
    """Anyone can send any method token and any path; the labels they become are a fixed set,
    so no request grows the registry (each series lives in every worker and its files)."""
    client = Client()

    def made_up(number: int) -> None:
        assert client.generic(f"X{number:05d}", "/health/live").status_code < 500
        assert client.get(f"/no-such-page-{number}/").status_code == 404
        assert client.generic(f"x{number:05d}", f"/api/made-up-{number}/").status_code < 500

    made_up(0)  # the first of each kind may add its series: an unknown method's, a 404's
    scrape()  # and the scrape's own
    before = scrape()
    for number in range(1, 100):
        made_up(number)
    after = scrape()
    assert set(after) - set(before) == set()
