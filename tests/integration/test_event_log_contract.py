"""The event store's and the command log's contract, run against the implementation production
runs on each database it supports: PostgresEventStore and PostgresCommandLog on PostgreSQL
(`make pytest`), the portable EventStore and CommandLog on SQLite, the embedded default
(`make test-embedded`). Racing writers never lose or duplicate a version, concurrent duplicates
of one command record it once, a reader following the global order sees every event exactly
once, what was appended never changes, and subscribers hear of events only after commit.
(That the database itself refuses UPDATE and DELETE of the log: tests/integration/test_append_only.py.)"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.db import connection, connections, transaction

from eventlog.idempotency import CommandLog, command_log
from eventlog.models import Snapshot, StoredEvent
from eventlog.postgres import PostgresCommandLog, PostgresEventStore
from eventlog.recorded import RecordedEvent
from eventlog.records import CommandEntry, DuplicateCommand
from eventlog.store import EventStore, StreamVersionConflict, event_store
from orders.commands import AddOrderItem, ConfirmOrder
from orders.domain import Order
from orders.repository import ORDER_STATE_VERSION, EventSourcedOrders
from tests.factories import CreateOrderFactory, OrderItemAddedFactory
from tests.support import recording_subscribers
from tests.support.concurrency import in_threads
from writeside.bus import handle
from writeside.commands import CommandMetadata
from writeside.unit_of_work import DjangoUnitOfWork

pytestmark = pytest.mark.django_db(transaction=True)
RECORD = "tests.support.recording_subscribers.record"
EXPLODE = "tests.support.recording_subscribers.explode"
# The implementations production runs on each database (config/settings.py chooses them).
IMPLEMENTATIONS: dict[str, tuple[type[EventStore], type[CommandLog]]] = {
    "postgresql": (PostgresEventStore, PostgresCommandLog),
    "sqlite": (EventStore, CommandLog),
}


@pytest.fixture(
    autouse=True,
    params=[pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("sqlite", marks=pytest.mark.embedded)],
)
def vendor(request: pytest.FixtureRequest) -> str:
    """The database this run is on; every test of the contract runs once per database."""
    assert connection.vendor == request.param
    store_class, log_class = IMPLEMENTATIONS[request.param]
    assert (type(event_store()), type(command_log())) == (store_class, log_class)
    return str(request.param)


@pytest.fixture(autouse=True)
def subscribers(settings: Any) -> list[Any]:
    settings.EVENT_SUBSCRIBERS = [RECORD]
    recording_subscribers.received.clear()
    return recording_subscribers.received


def append(stream_id: str, expected_version: int, count: int = 1, command: CommandEntry | None = None) -> Any:
    """Append `count` events to a stream in a transaction of their own, with the store the
    settings choose; the recorded events, or the exception the append raised."""
    try:
        with transaction.atomic():
            events = OrderItemAddedFactory.create_batch(count)
            return event_store().append(stream_id, "order", expected_version, events, {}, command=command)
    except (StreamVersionConflict, DuplicateCommand) as error:
        return error


def the_log() -> list[tuple[Any, ...]]:
    """Every stored event as stored, in position order."""
    return list(StoredEvent.objects.order_by("position").values_list("position", "event_id", "version", "data"))


def test_appended_events_read_back_as_recorded_in_order() -> None:
    stream = str(uuid4())
    first, more = append(stream, 0, 2), append(stream, 2, 3)
    store = event_store()
    read = store.read_stream(stream)
    assert read == [*first, *more]
    assert [event.version for event in read] == [1, 2, 3, 4, 5]
    positions = [event.position for event in read]
    assert positions == sorted(set(positions))
    assert [event.recorded_at for event in read] == sorted(event.recorded_at for event in read)
    assert store.read_all(0) == read
    assert store.read_all(positions[1], limit=2) == read[2:4]
    assert (store.head_position(), store.stream_version(stream)) == (positions[-1], 5)


def test_racing_appends_at_one_version_exactly_one_wins_and_the_other_changes_nothing() -> None:
    stream = str(uuid4())
    append(stream, 0)
    results = in_threads(2, lambda i: append(stream, 1, 2))
    wins = [result for result in results if isinstance(result, list)]
    losses = [result for result in results if isinstance(result, StreamVersionConflict)]
    assert (len(wins), len(losses)) == (1, 1), results
    assert [event.version for event in event_store().read_stream(stream)] == [1, 2, 3]
    assert event_store().read_stream(stream)[1:] == wins[0]


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


def test_concurrent_appends_recording_one_command_append_once() -> None:
    entry = CommandEntry(command_id=f"dup-{uuid4()}", command_type="AddOrderItem", fingerprint="f")
    results = in_threads(3, lambda i: append(str(uuid4()), 0, 1, command=entry))
    wins = [result for result in results if isinstance(result, list)]
    assert len(wins) == 1, results
    assert all(isinstance(result, DuplicateCommand) for result in results if result is not wins[0])
    assert StoredEvent.objects.count() == 1
    handled = command_log().get(entry.command_id)
    assert handled is not None
    assert handled.result == {"stream_id": wins[0][0].stream_id, "version": 1, "position": wins[0][0].position}


def test_concurrent_records_of_one_command_keep_the_first() -> None:
    command_id = f"dup-{uuid4()}"

    def record(index: int) -> Any:
        with transaction.atomic():
            command_log().record(command_id, "ConfirmOrder", "f", {"version": index})

    results = in_threads(3, record)
    assert sorted(type(r).__name__ for r in results) == ["DuplicateCommand", "DuplicateCommand", "NoneType"]
    handled = command_log().get(command_id)
    assert handled is not None
    assert handled.result == {"version": results.index(None)}


def test_concurrent_duplicates_of_one_command_through_the_bus_append_once() -> None:
    create = CreateOrderFactory(command_id="same-key")
    results = in_threads(
        3,
        lambda i: handle(CreateOrderFactory(command_id="same-key", customer_id=create.customer_id, items=create.items)),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.stream_id for r in results}) == 1
    assert StoredEvent.objects.count() == 1


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
                else:
                    # A follower polls; spinning on an empty log held the interpreter from
                    # the writers (on SQLite the run took minutes and outlived in_threads).
                    done.wait(0.002)
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


def test_what_was_appended_never_changes_whatever_is_appended_after() -> None:
    stream = str(uuid4())
    append(stream, 0, 3)
    before = the_log()
    read_before: list[RecordedEvent] = event_store().read_stream(stream)
    assert isinstance(append(stream, 2), StreamVersionConflict)  # refused: the log is as it was
    assert the_log() == before
    append(stream, 3, 2)
    append(str(uuid4()), 0, 2)
    assert the_log()[:3] == before
    assert event_store().read_stream(stream, to_version=3) == read_before


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


def test_loading_replays_only_the_tail_after_a_current_snapshot(settings: Any) -> None:
    stream_id = order_snapshotted_every_five(settings, 6)  # snapshot at 5, two events after
    snapshot = Snapshot.objects.get(stream_id=stream_id)
    # A mark only the snapshot carries: the events never changed the customer.
    snapshot.state = {**snapshot.state, "customer_id": "from-the-snapshot"}
    snapshot.save()
    store = event_store()
    loaded = EventSourcedOrders(store, 5).get(stream_id)
    full = Order.replay(stream_id, [e.event for e in store.read_stream(stream_id)])
    assert (loaded.state.customer_id, loaded.version) == ("from-the-snapshot", 7)
    assert loaded.state.lines == full.state.lines  # the two events after the snapshot applied


def test_a_snapshot_of_an_older_state_shape_is_ignored(settings: Any) -> None:
    stream_id = order_snapshotted_every_five(settings, 6)  # snapshot at 5, two events after
    Snapshot.objects.filter(stream_id=stream_id).update(
        state_version=ORDER_STATE_VERSION - 1, state={"an": "old shape"}
    )
    store = event_store()
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


def test_a_storys_origin_is_the_metadata_of_its_first_event() -> None:
    story = uuid4()
    create = CreateOrderFactory(metadata=CommandMetadata(correlation_id=story, user="alice"))
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id, metadata=CommandMetadata(correlation_id=story, user="bob")))
    handle(CreateOrderFactory(metadata=CommandMetadata(user="carol")))
    origin = event_store().story_origin(str(story))
    assert origin is not None
    assert (origin["user"], origin["command_type"]) == ("alice", "CreateOrder")
    assert event_store().story_origin(str(uuid4())) is None
