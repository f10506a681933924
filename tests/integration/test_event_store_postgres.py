"""Guarantees 1-4 on real PostgreSQL: facts are immutable, concurrent writers never lose or
duplicate a version, commands are idempotent, and nothing is published before commit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.db import DatabaseError, connection, connections, transaction

from eventlog.idempotency import command_log
from eventlog.models import Snapshot, StoredEvent
from eventlog.postgres import STORY_ORIGIN_SQL, PostgresEventStore
from eventlog.store import EventStore, event_store
from orders.commands import AddOrderItem, ConfirmOrder
from orders.domain import Order
from orders.repository import ORDER_STATE_VERSION, EventSourcedOrders
from tests.factories import CreateOrderFactory
from tests.integration import recording_subscribers
from writeside.bus import MessageBus, handle
from writeside.commands import CommandMetadata
from writeside.errors import ConcurrencyConflict
from writeside.unit_of_work import DjangoUnitOfWork

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RECORD = "tests.integration.recording_subscribers.record"
EXPLODE = "tests.integration.recording_subscribers.explode"


@pytest.fixture(autouse=True)
def subscribers(settings: Any) -> list[Any]:
    settings.EVENT_SUBSCRIBERS = [RECORD]
    recording_subscribers.received.clear()
    return recording_subscribers.received


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads started together; returns results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()  # this thread's connections to every database

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_stored_events_cannot_be_updated_or_deleted() -> None:
    handle(CreateOrderFactory())
    with connection.cursor() as cursor:
        for sql in ("UPDATE eventlog_storedevent SET event_type = 'Forged'", "DELETE FROM eventlog_storedevent"):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                cursor.execute(sql)
    assert StoredEvent.objects.get().event_type == "OrderCreated"


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


def test_racing_writers_with_retries_all_succeed_with_distinct_versions() -> None:
    create = CreateOrderFactory()
    handle(create)
    results = in_threads(
        4, lambda i: handle(AddOrderItem(order_id=create.order_id, sku=f"R{i}", quantity=1, unit_price=Decimal("1")))
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.version for r in results) == [2, 3, 4, 5]
    stream = event_store().read_stream(str(create.order_id))
    assert [e.version for e in stream] == [1, 2, 3, 4, 5]
    assert {e.event.sku for e in stream[1:]} == {"R0", "R1", "R2", "R3"}


def test_a_pinned_version_conflict_is_reported_as_a_mismatch() -> None:
    create = CreateOrderFactory()
    handle(create)
    results = in_threads(
        2,
        lambda i: handle(
            AddOrderItem(order_id=create.order_id, sku=f"P{i}", quantity=1, unit_price=Decimal("1"), expected_version=1)
        ),
    )
    assert sorted(type(r).__name__ for r in results) == ["CommandResult", "VersionMismatch"]


def test_a_reader_following_the_global_order_sees_every_event_exactly_once() -> None:
    writers, per_writer = 6, 25
    done = threading.Event()
    seen: list[str] = []

    def write(index: int) -> None:
        for _ in range(per_writer):
            create = CreateOrderFactory()
            handle(create)
            handle(ConfirmOrder(order_id=create.order_id))

    def read() -> None:
        store, checkpoint = event_store(), 0
        try:
            while True:
                finished = done.is_set()
                batch = store.read_all(checkpoint, limit=17)
                seen.extend(str(event.event_id) for event in batch)
                if batch:
                    checkpoint = batch[-1].position
                elif finished:
                    return
        finally:
            connections.close_all()  # this thread's connections to every database

    reader = threading.Thread(target=read)
    reader.start()
    errors = [r for r in in_threads(writers, write) if isinstance(r, Exception)]
    done.set()
    reader.join(60)
    assert not errors
    every = [str(i) for i in StoredEvent.objects.values_list("event_id", flat=True)]
    assert len(every) == writers * per_writer * 2
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(seen) == set(every)  # nothing skipped, even events committed late


def test_a_rolled_back_command_leaves_no_event_and_notifies_nobody(subscribers: list[Any]) -> None:
    def fail_after_append() -> None:
        with DjangoUnitOfWork() as uow:
            create = CreateOrderFactory()
            uow.repository(Order).add(Order.create(create.order_id, create.customer_id, create.currency, create.items))
            uow.commit()
            raise RuntimeError("failure after append, before commit")

    with pytest.raises(RuntimeError, match="after append"):
        fail_after_append()
    assert StoredEvent.objects.count() == 0
    assert subscribers == []


def test_subscribers_hear_of_events_after_commit(subscribers: list[Any]) -> None:
    with transaction.atomic():
        result = handle(CreateOrderFactory())
        assert subscribers == []  # not before the commit
    assert [e.position for e in subscribers] == [result.position]


def test_a_failing_subscriber_is_logged_and_does_not_stop_others_or_undo_the_command(
    settings: Any, subscribers: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    settings.EVENT_SUBSCRIBERS = [EXPLODE, RECORD]
    with caplog.at_level(logging.ERROR):
        result = handle(CreateOrderFactory())
    assert [e.position for e in subscribers] == [result.position]
    assert StoredEvent.objects.count() == 1
    assert str(subscribers[0].event_id) in caplog.text


def test_concurrent_duplicates_of_one_command_append_once() -> None:
    create = CreateOrderFactory(command_id="same-key")
    results = in_threads(
        3,
        lambda i: handle(CreateOrderFactory(command_id="same-key", customer_id=create.customer_id, items=create.items)),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.stream_id for r in results}) == 1
    assert StoredEvent.objects.count() == 1


def order_snapshotted_every_five(settings: Any, added_items: int) -> str:
    """An order's stream id: created, then `added_items` items, with a snapshot every 5 events."""
    settings.SNAPSHOT_EVERY = 5
    create = CreateOrderFactory()
    handle(create)
    for n in range(added_items):
        handle(AddOrderItem(order_id=create.order_id, sku=f"S{n}", quantity=1, unit_price=Decimal("1")))
    return str(create.order_id)


def test_snapshots_every_n_events_load_the_same_state(settings: Any) -> None:
    stream_id = order_snapshotted_every_five(settings, 11)
    snapshot = Snapshot.objects.get(stream_id=stream_id)
    assert snapshot.version == 10
    store = event_store()
    loaded = EventSourcedOrders(store, 5).get(stream_id)
    full = Order.replay(stream_id, [e.event for e in store.read_stream(stream_id)])
    assert (loaded.state, loaded.version) == (full.state, full.version) == (full.state, 12)


# Both the portable store and the PostgreSQL fast path (one query for snapshot and tail).
STORES = pytest.mark.parametrize("store_class", [EventStore, PostgresEventStore])


@STORES
def test_loading_replays_only_the_tail_after_a_current_snapshot(settings: Any, store_class: type[EventStore]) -> None:
    stream_id = order_snapshotted_every_five(settings, 6)  # snapshot at 5, two events after
    snapshot = Snapshot.objects.get(stream_id=stream_id)
    # A mark only the snapshot carries: the events never changed the customer.
    snapshot.state = {**snapshot.state, "customer_id": "from-the-snapshot"}
    snapshot.save()
    store = store_class()
    loaded = EventSourcedOrders(store, 5).get(stream_id)
    full = Order.replay(stream_id, [e.event for e in store.read_stream(stream_id)])
    assert (loaded.state.customer_id, loaded.version) == ("from-the-snapshot", 7)
    assert loaded.state.lines == full.state.lines  # the two events after the snapshot applied


@STORES
def test_a_snapshot_of_an_older_state_shape_is_ignored(settings: Any, store_class: type[EventStore]) -> None:
    stream_id = order_snapshotted_every_five(settings, 6)  # snapshot at 5, two events after
    Snapshot.objects.filter(stream_id=stream_id).update(
        state_version=ORDER_STATE_VERSION - 1, state={"an": "old shape"}
    )
    store = store_class()
    loaded = EventSourcedOrders(store, 5).get(stream_id)
    full = Order.replay(stream_id, [e.event for e in store.read_stream(stream_id)])
    assert (loaded.state, loaded.version) == (full.state, 7)


def test_a_stream_as_of_an_instant() -> None:
    create = CreateOrderFactory()
    handle(create)
    created_at = StoredEvent.objects.get().recorded_at
    handle(ConfirmOrder(order_id=create.order_id))
    store = event_store()
    assert [e.version for e in store.read_stream(str(create.order_id), until=created_at)] == [1]
    assert store.read_stream(str(create.order_id), until=created_at - timedelta(seconds=1)) == []
    assert len(store.read_stream(str(create.order_id))) == 2


def test_existing_streams_names_exactly_the_streams_with_events() -> None:
    first, second = CreateOrderFactory(), CreateOrderFactory()
    handle(first)
    handle(second)
    handle(ConfirmOrder(order_id=second.order_id))
    asked = [str(first.order_id), str(second.order_id), "no-such-stream", str(first.order_id)]
    assert event_store().existing_streams(asked) == {str(first.order_id), str(second.order_id)}
    assert event_store().existing_streams([]) == set()


@STORES
def test_a_storys_origin_is_the_metadata_of_its_first_event(store_class: type[EventStore]) -> None:
    story = uuid4()
    create = CreateOrderFactory(metadata=CommandMetadata(correlation_id=story, user="alice"))
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id, metadata=CommandMetadata(correlation_id=story, user="bob")))
    handle(CreateOrderFactory(metadata=CommandMetadata(user="carol")))
    origin = store_class().story_origin(str(story))
    assert origin is not None
    assert (origin["user"], origin["command_type"]) == ("alice", "CreateOrder")
    assert store_class().story_origin(str(uuid4())) is None


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
