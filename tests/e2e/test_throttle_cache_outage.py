"""A command needs only PostgreSQL: with the throttles' cache (the real Redis backend) on a
port where nothing listens, commands, queries and token issue answer as usual; the outage is
logged once per cooldown and counted, and throttling resumes when the cache is back."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import PASSWORD, UserFactory
from tests.support.http import ORDER_BODY, problem
from tests.support.waiting import eventually
from web import throttles
from web.throttles import CacheOutage, CacheOutageTolerant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline")]


def closed_port() -> int:
    """A local port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def outage(settings: Any, monkeypatch: pytest.MonkeyPatch) -> CacheOutage:
    """The configured cache backend, unreachable; a fresh outage record for this test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }
    record = CacheOutage()
    monkeypatch.setattr(throttles, "cache_outage", record)
    return record


def warnings_logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.name == throttles.__name__ and r.levelno == logging.WARNING)


def test_commands_queries_and_token_issue_answer_while_the_cache_is_down(
    outage: CacheOutage, admin_client_api: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = {"Idempotency-Key": "outage-1"}
    placed = admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers=key)
    assert placed.status_code == 201, placed.content
    retried = admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers=key)
    assert (retried.status_code, retried.json()) == (201, placed.json())
    order = placed.json()["order_id"]
    assert admin_client_api.get(f"/api/orders/{order}/").status_code == 200
    assert admin_client_api.get("/api/orders/").status_code == 200
    assert admin_client_api.get("/api/products/").status_code == 200
    UserFactory(username="ann")
    token = APIClient().post("/api/auth/token/", {"username": "ann", "password": PASSWORD}, format="json")
    assert token.status_code == 200, token.content
    # The first request found the cache down; the others skipped it during the cooldown.
    assert (outage.failures, outage.unthrottled) == (1, 7)
    assert warnings_logged(caplog) == 1


def test_the_cache_is_tried_again_after_the_cooldown_and_throttles_resume(
    outage: CacheOutage,
    admin_client_api: APIClient,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.THROTTLE_CACHE_COOLDOWN_SECONDS = 0.3
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"queries": "3/min", "commands": "3/min"})
    assert [admin_client_api.get("/api/orders/").status_code for _ in range(5)] == [200] * 5  # over the rate
    failures = outage.failures

    def cache_tried_again() -> bool:
        assert admin_client_api.get("/api/orders/").status_code == 200
        return outage.failures > failures

    eventually(cache_tried_again, timeout=5, message="the cooldown to end and the cache to be tried again")
    assert warnings_logged(caplog) == outage.failures  # one warning per cooldown
    # Redis is back (a cache of this test's own): once the cooldown ends, the rate holds again.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "back"}}
    eventually(lambda: not outage.skipping(), timeout=5, message="the cooldown to end")
    assert [admin_client_api.get("/api/orders/").status_code for _ in range(3)] == [200] * 3
    problem(admin_client_api.get("/api/orders/"), 429)


def _views(patterns: list[Any]) -> list[Any]:
    found: list[Any] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            found.append(pattern.callback.cls)
    return found


def test_every_api_throttle_tolerates_a_cache_outage() -> None:
    throttled = {
        view.__name__: view.throttle_classes for view in _views(get_resolver().url_patterns) if view.throttle_classes
    }
    assert {"TokenView", "OrderCollectionView", "ConfirmOrderView", "ProductDetailView"} <= set(throttled)
    for view, classes in throttled.items():
        assert all(issubclass(throttle, CacheOutageTolerant) for throttle in classes), view
