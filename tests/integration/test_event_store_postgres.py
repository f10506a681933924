"""What only PostgreSQL's implementation does, beyond the contract every implementation keeps
(tests/integration/test_event_log_contract.py): two commands can load the same version at once
(on SQLite a write transaction holds the database's one write lock from BEGIN, so they cannot),
the story's origin is found through its index, and a command's first round trip reads its
stream along with the idempotency look-up (and whether the archive holds it)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.db import connection, transaction
from django.utils import timezone

from eventlog.idempotency import command_log
from eventlog.models import ArchivedStream, StoredEvent
from eventlog.postgres import STORY_ORIGIN_SQL, PostgresEventStore
from eventlog.store import event_store
from kernel.errors import ConcurrencyConflict
from orders.commands import AddOrderItem
from orders.repository import ORDER_STATE_VERSION
from tests.factories import CreateOrderFactory
from tests.support.concurrency import in_threads
from writeside.bus import MessageBus, handle
from writeside.unit_of_work import DjangoUnitOfWork

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_writers_racing_without_retries_exactly_one_wins() -> None:
    create = CreateOrderFactory()
    handle(create)
    both_loaded = threading.Barrier(2, timeout=20)

    class RendezvousUnitOfWork(DjangoUnitOfWork):
        """Each writer waits before appending until the other has loaded the stream too,
        so the two always race from the same version, however the threads are scheduled."""

        def _save(self, *args: Any, **kwargs: Any) -> Any:
            both_loaded.wait()
            return super()._save(*args, **kwargs)

    bus = MessageBus(uow_factory=RendezvousUnitOfWork, max_attempts=1)
    results = in_threads(
        2,
        lambda i: bus.handle(AddOrderItem(order_id=create.order_id, sku=f"R{i}", quantity=1, unit_price=Decimal("1"))),
    )
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1
    assert wins[0].version == 2
    assert len(losses) == 1
    assert isinstance(losses[0], ConcurrencyConflict)
    assert list(StoredEvent.objects.filter(stream_id=str(create.order_id)).values_list("version", flat=True)) == [1, 2]


def test_a_long_storys_origin_is_found_through_the_correlation_index_not_by_walking_the_log() -> None:
    # A long story that starts late in the log: planned as `ORDER BY position LIMIT 1`,
    # PostgreSQL walks the primary key from the log's start instead.
    long_story = str(uuid4())
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO eventlog_storedevent (event_id, stream_id, stream_type, bucket, version, event_type, "
            "schema_version, data, metadata, recorded_at) "
            "SELECT gen_random_uuid(), CASE WHEN i > 30000 THEN 'long' ELSE 's' || i END, 'order', 0, "
            "CASE WHEN i > 30000 THEN i - 30000 ELSE 1 END, 'Filler', 1, '{}', jsonb_build_object('correlation_id', "
            "CASE WHEN i > 30000 THEN %s ELSE gen_random_uuid()::text END), now() "
            "FROM generate_series(1, 35000) AS i",
            [long_story],
        )
        cursor.execute("ANALYZE eventlog_storedevent")
        cursor.execute("EXPLAIN " + STORY_ORIGIN_SQL, [long_story])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "eventlog_correlation_idx" in plan, plan
    assert "eventlog_storedevent_pkey" not in plan, plan
    assert event_store().story_origin(long_story) == {"correlation_id": long_story}


def test_a_write_between_the_look_up_that_read_the_stream_and_the_append_is_caught_and_retried() -> None:
    """The stream read with the idempotency look-up (one round trip) is as old as that look-up:
    a writer committing right after it makes the append conflict, and the retry reads afresh."""
    create = CreateOrderFactory()
    handle(create)
    interloped: list[Any] = []

    class InterlopedUnitOfWork(DjangoUnitOfWork):
        def handled(self, command_id: str) -> Any:
            previous = super().handled(command_id)  # BEGIN, the record and the stream, read
            if not interloped:
                other = AddOrderItem(order_id=create.order_id, sku="OTHER", quantity=1, unit_price=Decimal("1"))
                interloped.extend(in_threads(1, lambda _: handle(other)))
            return previous

    bus = MessageBus(uow_factory=InterlopedUnitOfWork)
    mine = bus.handle(AddOrderItem(order_id=create.order_id, sku="MINE", quantity=1, unit_price=Decimal("1")))
    assert interloped[0].version == 2
    assert mine.version == 3
    stream = event_store().read_stream(str(create.order_id))
    assert [(e.version, getattr(e.event, "sku", None)) for e in stream] == [(1, None), (2, "OTHER"), (3, "MINE")]


def test_a_stream_read_with_the_look_up_serves_only_the_next_load_of_that_very_stream() -> None:
    first, second = CreateOrderFactory(), CreateOrderFactory()
    handle(first)
    handle(second)
    store = PostgresEventStore()
    statement = store.load_stream_statement(str(first.order_id), ORDER_STATE_VERSION)
    assert statement is not None
    with transaction.atomic():
        found, rows = command_log().get_along(first.command_id, statement)
        assert found is not None
        assert found.command_type == "CreateOrder"
        assert rows is not None
        store.preloaded(str(first.order_id), ORDER_STATE_VERSION, rows)
        _, events = store.load_stream(str(second.order_id), ORDER_STATE_VERSION)  # another stream: read
        assert {e.stream_id for e in events} == {str(second.order_id)}
        _, events = store.load_stream(str(first.order_id), ORDER_STATE_VERSION)  # read afresh, not dropped
        assert [(e.stream_id, e.version) for e in events] == [(str(first.order_id), 1)]


def manifest(stream_id: str, status: str) -> ArchivedStream:
    """A manifest row for a stream with no event in the log."""
    return ArchivedStream.objects.create(
        stream_id=stream_id,
        stream_type="order",
        status=status,
        segment=f"segments/{stream_id}",
        format_version=1,
        checksum="0" * 64,
        event_count=1,
        last_version=1,
        first_position=1,
        last_position=1,
        verified_at=timezone.now(),
        archived_at=timezone.now() if status == ArchivedStream.Status.ARCHIVED else None,
    )


def test_the_load_of_an_empty_stream_reads_whether_it_is_archived_and_the_next_question_reads_afresh() -> None:
    archived, verified, new = str(uuid4()), str(uuid4()), str(uuid4())
    manifest(archived, ArchivedStream.Status.ARCHIVED)
    manifest(verified, ArchivedStream.Status.VERIFIED)
    store = PostgresEventStore()

    assert store.load_stream(archived, ORDER_STATE_VERSION) == (None, [])
    ArchivedStream.objects.filter(stream_id=archived).delete()
    assert store.is_archived(archived)  # as the load read it: no question asked after it
    assert not store.is_archived(archived)  # asked afresh: the manifest is gone
    for stream_id in (verified, new):
        assert store.load_stream(stream_id, ORDER_STATE_VERSION) == (None, [])
        assert not store.is_archived(stream_id)
    store.load_stream(new, ORDER_STATE_VERSION)
    manifest(archived, ArchivedStream.Status.ARCHIVED)
    assert store.is_archived(archived)  # another stream's load answers nothing about this one
