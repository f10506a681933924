"""HTTP helpers for API tests: a valid order body, a token-authenticated client, reading a
problem+json answer, and requests against a live `web` process."""

from __future__ import annotations

from typing import Any

import requests
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.factories import (
    token_for,
)

ORDER_BODY = {
    "customer_id": "c-42",
    "currency": "EUR",
    "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "9.99"}],
}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def post(client: APIClient, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(path, body or {}, format="json", headers=headers)


def register(client: APIClient, **overrides: Any) -> dict[str, Any]:
    response = post(client, "/api/products/", {**PRODUCT, **overrides})
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def history_pages(client: APIClient, url: str) -> list[dict[str, Any]]:
    """Every page from `url` on, following `next` to the last page."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append(response.json())
        url = pages[-1]["next"]
    return pages


def call(base: str, method: str, path: str, token: str = "", **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Token {token}"
    return requests.request(method, base + path, headers=headers, timeout=30, **kwargs)


PROBLEM = "application/problem+json"


PRODUCT = {"sku": "HAM-1", "name": "Hammer", "price": "12.50"}


def token_client(user: User) -> APIClient:
    """An API client that authenticates as `user` with its token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client
