"""Shared test configuration: guarantees about PostgreSQL are proven on PostgreSQL or fail."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _postgres_tests_need_postgres(request: pytest.FixtureRequest) -> None:
    """A test marked `postgres` fails, never skips, when the database is not PostgreSQL."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.fail(f"This test proves a PostgreSQL guarantee; the database is {connection.vendor}. Set DATABASE_URL.")
