"""The event log and the command records are append-only in the database itself: PostgreSQL
refuses UPDATE, DELETE and TRUNCATE (so `manage.py flush` too), SQLite UPDATE and DELETE;
and the app runs as the role docs/architecture.md sets up, which can neither change the log
nor lift its guard."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.backends.base.operations import BaseDatabaseOperations

from eventlog.models import CommandRecord, StoredEvent
from tests.factories import CreateOrderFactory
from tests.support.grants import documented_grants
from writeside.bus import handle

pytestmark = pytest.mark.django_db
ON_BOTH_DATABASES = pytest.mark.parametrize(
    "vendor",
    [pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("sqlite", marks=pytest.mark.embedded)],
)
REFUSED = {"postgresql": ("UPDATE", "DELETE", "TRUNCATE"), "sqlite": ("UPDATE", "DELETE")}
STATEMENTS = {
    "UPDATE": {
        "eventlog_storedevent": "UPDATE eventlog_storedevent SET event_type = 'Forged'",
        "eventlog_commandrecord": "UPDATE eventlog_commandrecord SET fingerprint = 'forged'",
    },
    "DELETE": {table: f"DELETE FROM {table}" for table in ("eventlog_storedevent", "eventlog_commandrecord")},
    "TRUNCATE": {table: f"TRUNCATE {table}" for table in ("eventlog_storedevent", "eventlog_commandrecord")},
}


def the_log() -> list[list[Any]]:
    """Every stored event and command record, to compare before and after."""
    return [list(StoredEvent.objects.values()), list(CommandRecord.objects.values())]


@ON_BOTH_DATABASES
def test_stored_events_and_command_records_refuse_every_change(vendor: str) -> None:
    assert connection.vendor == vendor
    handle(CreateOrderFactory())
    before = the_log()
    assert all(before), "a command writes an event and a command record"
    with connection.cursor() as cursor:
        for operation in REFUSED[vendor]:
            for table, sql in STATEMENTS[operation].items():
                refused = f"{table} is append-only: {operation} is not allowed"
                with pytest.raises(DatabaseError, match=refused), transaction.atomic():
                    cursor.execute(sql)
    assert the_log() == before


@ON_BOTH_DATABASES
def test_manage_py_flush_is_refused(vendor: str) -> None:
    assert connection.vendor == vendor
    handle(CreateOrderFactory())  # SQLite's row triggers refuse only when there is a row
    before = the_log()
    # The root conftest.py lets the suite's own flush between tests through; this test runs
    # Django's flush as it is outside the test suite.
    production_flush = BaseDatabaseOperations.execute_sql_flush.__wrapped__  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", production_flush)
        with pytest.raises(CommandError) as refused:
            call_command("flush", interactive=False, verbosity=0)
    assert "is append-only" in str(refused.value.__cause__)
    assert the_log() == before


@pytest.mark.postgres
def test_the_documented_app_role_appends_but_cannot_change_the_log_or_lift_its_guard() -> None:
    # Roles are cluster-wide: a name of this test's own, created in the test's transaction
    # and gone with its rollback.
    role = f"test_app_{uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(documented_grants().replace("backoffice_app", role))
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,)
        handle(CreateOrderFactory())  # a command: reads the log, appends, records the command
        before = the_log()
        refusals = [(sql, "permission denied") for statements in STATEMENTS.values() for sql in statements.values()]
        refusals += [
            ("DROP TRIGGER eventlog_storedevent_append_only ON eventlog_storedevent", "must be owner"),
            ("ALTER TABLE eventlog_storedevent DISABLE TRIGGER ALL", "must be owner"),
            ("SET LOCAL session_replication_role = replica", "permission denied"),
        ]
        for sql, error in refusals:
            with pytest.raises(DatabaseError, match=error), transaction.atomic():
                cursor.execute(sql)
    assert the_log() == before
