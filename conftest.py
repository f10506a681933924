"""Root pytest configuration: database access for the two-database layout."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let every database test reach all aliases, so the suite also runs with read models
    in their own database (READ_DATABASE_URL) without each test naming it."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and "databases" not in marker.kwargs:
            # Prepended: a marker on the function itself would otherwise stay the closest one.
            item.add_marker(
                pytest.mark.django_db(*marker.args, **marker.kwargs, databases="__all__"),
                append=False,
            )
