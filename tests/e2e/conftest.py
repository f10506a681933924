"""Fixtures for API tests: users with and without permissions, authenticated clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.factories import SuperuserFactory, UserFactory, token_for

ORDER_BODY = {
    "customer_id": "c-42",
    "currency": "EUR",
    "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "9.99"}],
}


@pytest.fixture
def inline(settings: Any) -> None:
    """Projections run in-process right after each commit."""
    settings.PROJECTIONS_INLINE = True


@pytest.fixture
def private_cache(settings: Any, request: pytest.FixtureRequest) -> None:
    """Throttle counters in a cache of this test's own. The configured cache may be the
    Redis database the Celery broker uses, which cache.clear() would flush for everyone."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }


def _client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def make_client(db: None) -> Callable[..., APIClient]:
    """A token-authenticated client for a new user with the given permissions."""

    def make(*codenames: str, superuser: bool = False, username: str | None = None) -> APIClient:
        factory = SuperuserFactory if superuser else UserFactory
        names = {"username": username} if username else {}
        return _client(factory(**names, permissions=[f"orders.{codename}" for codename in codenames]))

    return make


@pytest.fixture
def admin_client_api(make_client: Callable[..., APIClient]) -> APIClient:
    """A superuser's client: every command permission."""
    return make_client(superuser=True, username="boss")


@pytest.fixture
def place(admin_client_api: APIClient) -> Callable[..., dict[str, Any]]:
    """Create an order through the API; returns the command's answer."""

    def create(**overrides: Any) -> dict[str, Any]:
        response = admin_client_api.post("/api/orders/", {**ORDER_BODY, **overrides}, format="json")
        assert response.status_code == 201, response.content
        body: dict[str, Any] = response.json()
        return body

    return create
