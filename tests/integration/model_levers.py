"""The levers the model-based test (tests/integration/test_model.py) pulls on the real services,
and the readings it takes of them: a projector run the way a worker runs it (with a bug that
can be switched on for chosen orders), the inbound consumer's boundary for one message, an
empty database for each example, the integration broker behind a proxy the test cuts and
restores (with a partner's subscriber bound directly to it), and each aggregate loaded the
way commands load it (from its snapshot) beside the same aggregate replayed from its whole
stream, so that an off-by-one between a snapshot and its stream shows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from django.core.management import call_command
from django.db import connections

from eventlog.models import Snapshot, StoredEvent
from eventlog.recorded import RecordedEvent
from eventlog.serialization import to_data
from eventlog.store import event_store
from integration import broker as integration_broker
from integration.inbound import RefusedMessage, to_command
from integration.verification import PUBLIC_TYPES
from kernel.errors import DomainError
from projector.loop import all_partitions
from projector.running import run_partition
from readmodels.projections.orders import OrdersProjection
from tests.support.faults import TcpProxy
from tests.support.rabbit import Subscriber, first_seen_sequences
from writeside import bus
from writeside.unit_of_work import REPOSITORIES, CommandResult


def outcome(command: Any) -> CommandResult | DomainError:
    """The bus's result for `command`, or the DomainError it refused it with."""
    try:
        return bus.handle(command)
    except DomainError as refused:
        return refused


def deliver(body: bytes) -> str:
    """One inbound message through the consumer's boundary (integration/consumer.py's `settle`,
    without the broker): "applied", or "dead-lettered" for a message refused for good."""
    try:
        bus.handle(to_command(body))
    except (RefusedMessage, DomainError):
        return "dead-lettered"
    return "applied"


def cloud_event(event_type: str, message_id: str, data: dict[str, Any], source: str = "/partner") -> bytes:
    """A partner's CloudEvent as it arrives on the inbound queue (docs/events.md)."""
    envelope = {
        "specversion": "1.0",
        "id": message_id,
        "source": source,
        "type": event_type,
        "time": "2026-01-01T12:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }
    return json.dumps(envelope).encode()


class BrokenOrders(OrdersProjection):
    """The orders projection with a bug that fires on the events of the orders in `poisoned`
    until they are taken out (the bug fixed). Named in settings.PROJECTIONS in place of the
    real one, so the worker's loop, the rebuilds and the books check all run this one."""

    poisoned: ClassVar[set[str]] = set()

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        if any(event.stream_id in self.poisoned for event in events):
            raise RuntimeError("projection bug")
        super().apply(events, using)


ORDERS = f"{OrdersProjection.__module__}.{OrdersProjection.__name__}"
BROKEN_ORDERS = f"{BrokenOrders.__module__}.{BrokenOrders.__name__}"


def project() -> None:
    """Catch every projection up on every partition, as a worker answering each doorbell does."""
    for partition in all_partitions():
        while run_partition(partition):
            pass


def empty_databases() -> None:
    """Every table emptied, as a transactional test's teardown does (the root conftest lets
    its flush empty the event log): each example starts from nothing."""
    for alias in connections:
        call_command("flush", verbosity=0, interactive=False, database=alias)


class FlakyBroker:
    """The integration broker as the relay sees it: through `proxy`, cut and restored by the
    rules; a partner's subscriber (bound to the machine's RabbitMQ directly, so a cut never
    loses what was confirmed) records what arrives."""

    def __init__(self, proxy: TcpProxy, exchange: str) -> None:
        self.proxy, self.exchange = proxy, exchange
        self.up = True
        self.subscriber: Subscriber | None = None

    def fresh(self) -> None:
        """A new example: the broker up, a new subscriber, a fresh publisher."""
        self.close()
        self.restore()
        fresh_publisher()
        self.subscriber = Subscriber(self.exchange)

    def cut(self) -> None:
        self.proxy.cut()
        self.up = False

    def restore(self) -> None:
        """The broker reachable again, and the relay's backoff over (a fresh publisher: the
        test does not wait it out), so its next publish tries at once."""
        if not self.up:
            self.proxy.restore()
            fresh_publisher()
        self.up = True

    def close(self) -> None:
        if self.subscriber is not None:
            self.subscriber.close()
            self.subscriber = None

    def owed(self) -> dict[str, str]:
        """Every public event of the log: its id, and its subject (the order or product)."""
        rows = StoredEvent.objects.filter(event_type__in=PUBLIC_TYPES).values_list("event_id", "stream_id")
        return {str(event_id): stream for event_id, stream in rows}

    def published_once_in_effect(self, timeout: float = 10.0) -> None:
        """Every public event arrived, under its own id; copies of one id are the same message;
        no id the log does not have; each subject's sequence rises in what a consumer that
        dedupes on `id` processes. Projects meanwhile, as beat's catch-up would."""
        assert self.subscriber is not None
        assert self.up
        owed = self.owed()

        def arrived(messages: list[dict[str, Any]]) -> bool:
            if set(owed) <= {message["id"] for message in messages}:
                return True
            project()  # as beat's catch-up would, after a publish that found the connection dead
            return False

        self.subscriber.until(arrived, timeout, "every public event to be published")
        by_id: dict[str, dict[str, Any]] = {}
        for message in self.subscriber.messages:
            first = by_id.setdefault(message["id"], message)
            assert message == first, f"two different messages under the id {message['id']}"
        assert set(by_id) == set(owed), f"published but not in the log: {sorted(set(by_id) - set(owed))}"
        for subject, sequences in first_seen_sequences(self.subscriber.messages).items():
            assert sequences == sorted(set(sequences)), f"{subject}: sequences out of order {sequences}"


def fresh_publisher() -> None:
    """The relay's publisher as a newly started worker has it: no connection, no backoff."""
    integration_broker.publisher().close()
    integration_broker._publisher = None


def snapshot_disagreements() -> list[str]:
    """Each snapshotted aggregate loaded as commands load it (its snapshot and the events after
    it) compared with the same aggregate replayed from its whole stream: same version, same
    state; and the stream's versions run 1..n without a gap."""
    store = event_store()
    found = []
    for stream_id, stream_type in Snapshot.objects.values_list("stream_id", "stream_type"):
        repository = REPOSITORIES[stream_type](store)
        events = store.read_stream(stream_id)
        versions = [event.version for event in events]
        if versions != list(range(1, len(events) + 1)):
            found.append(f"{stream_type} {stream_id}: stream versions {versions}")
        whole = repository.aggregate_type.replay(
            stream_id, [event.event for event in events], **repository.aggregate_options()
        )
        # The id a command names it by: a product's SKU, a customer's id, an order's stream id.
        aggregate_id = {"product": "sku", "customer": "customer_id"}.get(stream_type)
        loaded = repository.get(getattr(whole.state, aggregate_id) if aggregate_id else stream_id)
        if loaded.version != whole.version or to_data(loaded.state) != to_data(whole.state):
            found.append(f"{stream_type} {stream_id}: loaded v{loaded.version} != replayed v{whole.version}")
    return found
