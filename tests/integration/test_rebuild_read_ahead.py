"""Reading the log ahead in a second thread during a rebuild (projector/read_ahead.py):
the same batches as reading in line, and never when the caller's transaction may hold
events other connections cannot see."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from eventlog.store import event_store
from projector.read_ahead import can_read_ahead, log_batches
from tests.factories import CreateOrderFactory
from tests.support.waiting import eventually
from tests.support.workload import drive_orders
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def positions(read_ahead: bool, size: int) -> list[list[int]]:
    store = event_store()
    head = store.head_position()
    return [[event.position for event in batch] for batch in log_batches(store, head, size, read_ahead=read_ahead)]


def test_reading_ahead_yields_the_same_batches_as_reading_in_line() -> None:
    drive_orders(12, seed=5)
    in_line = positions(False, 7)
    assert len(in_line) > 3
    assert positions(True, 7) == in_line
    assert [p for batch in in_line for p in batch] == [e.position for e in event_store().read_all(0, limit=10_000)]


def backends() -> int:
    """Sessions open on this test database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_the_reader_thread_closes_its_connection() -> None:
    drive_orders(3, seed=6)
    store = event_store()
    before = backends()
    batches = log_batches(store, store.head_position(), 2, read_ahead=True)
    assert next(batches)
    # Between two batches the reader thread holds a session of its own (it read this one).
    assert backends() == before + 1
    assert list(batches)
    eventually(lambda: backends() == before, timeout=10, message="the reader's session to end")


def test_no_read_ahead_inside_the_callers_transaction() -> None:
    assert can_read_ahead(event_store())
    with transaction.atomic():
        handle(CreateOrderFactory())  # uncommitted: another connection would not see it
        assert not can_read_ahead(event_store())
        store = event_store()
        head = store.head_position()
        assert [e.position for batch in log_batches(store, head, 5, read_ahead=False) for e in batch][-1] == head
        transaction.set_rollback(True)
