"""Root pytest configuration: database access for the two-database layout, and the flush
between transactional tests on a database whose event log refuses to be emptied."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db.backends.base.operations import BaseDatabaseOperations

from eventlog.append_only import maintenance_window


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


@pytest.fixture(scope="session", autouse=True)
def _test_flush_may_empty_the_event_log() -> Iterator[None]:
    """Transactional tests (`django_db(transaction=True)`) end with Django's `flush`, which
    is TRUNCATE on PostgreSQL and DELETE on SQLite: exactly what the event log's triggers
    refuse (eventlog/migrations/0003). Only here, for the suite's throwaway test databases,
    the flush runs inside eventlog.append_only.maintenance_window (on PostgreSQL the test
    role is a superuser and skips triggers for that one transaction). The product is not
    touched: `manage.py flush` outside pytest is still refused, and
    tests/integration/test_append_only.py proves it with the unwrapped method
    (`execute_sql_flush.__wrapped__`)."""
    unwrapped = BaseDatabaseOperations.execute_sql_flush

    @functools.wraps(unwrapped)
    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        with maintenance_window(self.connection.alias):
            unwrapped(self, sql_list)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """The SQLite test database runs in WAL mode, as the embedded default does
    (config/settings.py). Django deletes a test database file before creating it again but not
    the write-ahead log beside it: a run killed mid-write leaves a `-wal` whose frames SQLite
    would replay onto the new, empty file. Removing it (and its index, `-shm`) first is what
    makes every run start from the database the migrations build."""
    for database in settings.DATABASES.values():
        if database["ENGINE"] != "config.sqlite":
            continue
        test = database.get("TEST")
        name = test.get("NAME") if isinstance(test, dict) else None
        if name:
            for suffix in ("-wal", "-shm"):
                Path(f"{name}{suffix}").unlink(missing_ok=True)
