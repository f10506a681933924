"""Fixtures for API tests: users with and without permissions, authenticated clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import (
    SuperuserFactory,
    UserFactory,
)
from tests.support.http import ORDER_BODY, token_client


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


@pytest.fixture
def make_client(db: None) -> Callable[..., APIClient]:
    """A token-authenticated client for a new user with the given permissions."""

    def make(*codenames: str, superuser: bool = False, username: str | None = None) -> APIClient:
        factory = SuperuserFactory if superuser else UserFactory
        names = {"username": username} if username else {}
        return token_client(factory(**names, permissions=[f"orders.{codename}" for codename in codenames]))

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


@pytest.fixture
def staff(client: Client, inline: None) -> Client:
    SuperuserFactory(username="boss")
    # Signed in directly: axes refuses a password check without a request, which the test
    # client's login() does not pass (test_api_auth.py signs in through the login form).
    client.force_login(User.objects.get(username="boss"))
    return client
