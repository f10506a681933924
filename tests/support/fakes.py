"""In-memory stand-ins for the unit of work, for handler and bus tests without a database."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from eventlog.idempotency import DuplicateCommand, HandledCommand
from eventlog.personal import SubjectKey, new_secret
from eventlog.recorded import RecordedEvent
from eventlog.store import StreamVersionConflict
from inventory.domain import Product
from inventory.errors import ProductNotFound
from inventory.events import product_stream
from inventory.repository import could_be_product
from orders.customers import Customer, customer_stream_id
from orders.domain import MAX_EVENTS, Order
from orders.errors import CustomerNotFound, OrderNotFound
from tests.factories import recorded_event
from writeside.aggregate import Aggregate
from writeside.repository import check_expected_version
from writeside.unit_of_work import AbstractUnitOfWork, CommandContext, CommandResult


class FakeKeys:
    """The subject-key table in memory: a KeySource that counts its look-ups."""

    def __init__(self) -> None:
        self.keys: dict[str, SubjectKey] = {}
        self.lookups = 0

    def key_for(self, subject: str) -> SubjectKey:
        self.lookups += 1
        if subject not in self.keys:
            self.keys[subject] = SubjectKey(key_id=str(uuid4()), secret=new_secret())
        return self.keys[subject]

    def key_of_loaded(self, subject: str) -> SubjectKey | None:
        return self.keys.get(subject)

    def secrets(self, key_ids: Collection[str]) -> dict[str, bytes]:
        self.lookups += 1
        return {key.key_id: key.secret for key in self.keys.values() if key.key_id in key_ids}

    def forget(self, subject: str) -> bool:
        return self.keys.pop(subject, None) is not None


class FakeLog:
    """The event log, command records and published events of one fake database."""

    def __init__(self) -> None:
        self.keys = FakeKeys()
        self.streams: dict[str, list[Any]] = {}
        self.commands: dict[str, HandledCommand] = {}
        self.published: list[RecordedEvent] = []
        self.position = 0
        # The global position of each stream's last staged event, for no-op results.
        self.positions: dict[str, int] = {}


class FakeOrders:
    """An order repository over a FakeLog (the stream type "order")."""

    aggregate_type: type[Aggregate[Any, Any]] = Order

    def __init__(self, log: FakeLog, **options: Any) -> None:
        self.log = log
        # What loaded aggregates are constructed with (EventSourcedRepository.aggregate_options).
        self.options = options
        self._seen: dict[str, Any] = {}

    @property
    def seen(self) -> list[Any]:
        return list(self._seen.values())

    def stream_id(self, aggregate_id: Any) -> str:
        return str(aggregate_id)

    def not_found(self, aggregate_id: Any) -> Exception:
        return OrderNotFound(f"Order {aggregate_id} does not exist")

    def get(self, aggregate_id: Any, expected_version: int | None = None) -> Any:
        stream_id = self.stream_id(aggregate_id)
        events = self.log.streams.get(stream_id, [])
        if not events:
            raise self.not_found(aggregate_id)
        aggregate = self.aggregate_type.replay(stream_id, events, **self.options)
        check_expected_version(aggregate, expected_version)
        self._seen[stream_id] = aggregate
        return aggregate

    def add(self, aggregate: Any) -> None:
        self._seen[aggregate.id] = aggregate

    def could_exist(self, aggregate_id: str) -> bool:
        return True

    def existing(self, aggregate_ids: Iterable[str]) -> set[str]:
        return {key for key in aggregate_ids if self.could_exist(key) and self.log.streams.get(self.stream_id(key))}


class FakeProducts(FakeOrders):
    """A product repository over a FakeLog."""

    aggregate_type = Product

    def stream_id(self, aggregate_id: Any) -> str:
        return product_stream(str(aggregate_id))

    def not_found(self, aggregate_id: Any) -> Exception:
        return ProductNotFound(f"No product is registered under SKU {aggregate_id}")

    def could_exist(self, aggregate_id: str) -> bool:
        return could_be_product(aggregate_id)


class FakeCustomers(FakeOrders):
    """Customers' privacy streams over a FakeLog (the stream type "customer")."""

    aggregate_type = Customer

    def stream_id(self, aggregate_id: Any) -> str:
        return customer_stream_id(str(aggregate_id))

    def not_found(self, aggregate_id: Any) -> Exception:
        return CustomerNotFound(str(aggregate_id))


class FakeUnitOfWork(AbstractUnitOfWork):
    """A unit of work whose 'transaction' is a staged copy applied only on a clean exit."""

    def __init__(self, log: FakeLog | None = None, max_events_per_order: int = MAX_EVENTS) -> None:
        self.log = log or FakeLog()
        self.max_events_per_order = max_events_per_order
        self.committed = False

    def __enter__(self) -> FakeUnitOfWork:
        self._opened = {}
        self._staged: list[tuple[str, int, list[Any]]] = []
        self._staged_records: list[HandledCommand] = []
        self._pending_publish: list[RecordedEvent] = []
        self.committed = False
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None or not self.committed:
            return  # rolled back: nothing staged reaches the log
        for stream_id, expected, events in self._staged:
            stream = self.log.streams.setdefault(stream_id, [])
            if len(stream) != expected:
                raise StreamVersionConflict(stream_id, expected)
            stream.extend(events)
        for recorded in self._pending_publish:
            self.log.positions[recorded.stream_id] = recorded.position
        for record in self._staged_records:
            if record.command_id in self.log.commands:
                raise DuplicateCommand(record.command_id)
            self.log.commands[record.command_id] = record
        self.log.published.extend(self._pending_publish)

    def handled(self, command_id: str) -> HandledCommand | None:
        return self.log.commands.get(command_id)

    @property
    def keys(self) -> FakeKeys:
        return self.log.keys

    def forget_subject(self, subject: str) -> bool:
        return self.log.keys.forget(subject)

    def streams_with(self, event_type: str, field: str, value: str) -> list[str]:
        return [
            stream_id
            for stream_id, events in self.log.streams.items()
            if any(type(event).__name__ == event_type and getattr(event, field, None) == value for event in events)
        ]

    def commit(self) -> CommandResult:
        result = super().commit()
        self.committed = True
        return result

    def unchanged(self, aggregate: Aggregate[Any, Any]) -> CommandResult:
        result = super().unchanged(aggregate)
        self.committed = True
        return result

    def _open_repository(self, stream_type: str) -> Any:
        if stream_type == Order.stream_type:
            return FakeOrders(self.log, max_events=self.max_events_per_order)
        if stream_type == Product.stream_type:
            return FakeProducts(self.log)
        if stream_type == Customer.stream_type:
            return FakeCustomers(self.log)
        raise LookupError(f"No repository is registered for stream type {stream_type!r}")

    def _last_position(self, stream_id: str) -> int:
        return self.log.positions.get(stream_id, 0)

    def _save(self, aggregate: Aggregate[Any, Any], metadata: dict[str, Any]) -> list[RecordedEvent]:
        expected = aggregate.stored_version
        events = aggregate.collect_events()
        self._staged.append((aggregate.id, expected, events))
        recorded = []
        for offset, event in enumerate(events, start=1):
            self.log.position += 1
            recorded.append(
                recorded_event(
                    event,
                    stream_id=aggregate.id,
                    stream_type=aggregate.stream_type,
                    version=expected + offset,
                    position=self.log.position,
                    recorded_at=datetime.now(UTC),
                    metadata=metadata,
                )
            )
        return recorded

    def _record(self, context: CommandContext, result: CommandResult) -> None:
        self._staged_records.append(
            HandledCommand(
                command_id=context.command_id,
                command_type=context.command_type,
                fingerprint=context.fingerprint,
                result=result.to_dict(),
            )
        )

    def _publish(self, recorded: list[RecordedEvent]) -> None:
        self._pending_publish.extend(recorded)


class PublishedStreams:
    """The read side of the fake log, as the mapping reads a stream (a slice of it)."""

    def __init__(self, log: FakeLog) -> None:
        self.log = log

    def read_stream(
        self, stream_id: str, after_version: int = 0, to_version: int | None = None, **_: Any
    ) -> list[RecordedEvent]:
        return [
            e
            for e in self.log.published
            if e.stream_id == stream_id and after_version < e.version <= (to_version or e.version)
        ]
