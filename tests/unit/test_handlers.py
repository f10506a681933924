"""Command handlers through the message bus, on an in-memory unit of work (no database)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from kernel.errors import (
    BusinessRuleViolated,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    InvalidTransition,
    VersionMismatch,
)
from orders.checks import events_per_order_leave_room_for_the_lifecycle
from orders.commands import AddOrderItem, LineItem, MarkStockReserved, RemoveOrderItem
from orders.errors import OrderAlreadyExists, OrderNotFound
from orders.events import OrderItemAdded
from tests.factories import (
    CancelOrderFactory,
    ConfirmOrderFactory,
    CreateOrderFactory,
    DeliverOrderFactory,
    PayOrderFactory,
    RegisterProductFactory,
    ShipOrderFactory,
    total_of,
)
from tests.support.fakes import FakeLog, FakeUnitOfWork
from writeside.bus import MessageBus
from writeside.unit_of_work import CommandResult


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def bus(log: FakeLog) -> MessageBus:
    return MessageBus(uow_factory=lambda: FakeUnitOfWork(log))


def test_each_handler_appends_one_event_and_answers_ids(bus: MessageBus, log: FakeLog) -> None:
    create = CreateOrderFactory()
    order_id = create.order_id
    results = [
        bus.handle(create),
        bus.handle(AddOrderItem(order_id=order_id, sku="NEW", quantity=1, unit_price=Decimal("2.00"))),
        bus.handle(RemoveOrderItem(order_id=order_id, sku="NEW")),
        bus.handle(ConfirmOrderFactory(order_id=order_id)),
        bus.handle(PayOrderFactory(order_id=order_id, amount=total_of(create))),
        bus.handle(ShipOrderFactory(order_id=order_id)),
        bus.handle(DeliverOrderFactory(order_id=order_id)),
    ]
    assert [r.version for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.position for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert {r.stream_id for r in results} == {str(order_id)}
    assert len(log.streams[str(order_id)]) == 7
    assert [e.version for e in log.published] == [1, 2, 3, 4, 5, 6, 7]


def test_cancel(bus: MessageBus, log: FakeLog) -> None:
    create = CreateOrderFactory()
    bus.handle(create)
    assert bus.handle(CancelOrderFactory(order_id=create.order_id)).version == 2


def test_unknown_order(bus: MessageBus) -> None:
    with pytest.raises(OrderNotFound):
        bus.handle(ConfirmOrderFactory(order_id=uuid4()))


def test_creating_an_existing_order_is_refused(bus: MessageBus, log: FakeLog) -> None:
    create = CreateOrderFactory()
    bus.handle(create)
    with pytest.raises(OrderAlreadyExists):
        bus.handle(CreateOrderFactory(order_id=create.order_id))
    assert len(log.streams[str(create.order_id)]) == 1


def test_a_repeated_command_id_returns_the_first_result_and_appends_nothing(bus: MessageBus, log: FakeLog) -> None:
    create = CreateOrderFactory()
    bus.handle(create)
    confirm = ConfirmOrderFactory(order_id=create.order_id)
    first = bus.handle(confirm)
    again = bus.handle(confirm)  # would be InvalidTransition if it ran again
    assert again == first
    assert len(log.streams[str(create.order_id)]) == 2
    assert len(log.published) == 2


def test_a_repeated_create_with_a_new_generated_order_id_is_still_the_same_request(
    bus: MessageBus, log: FakeLog
) -> None:
    create = CreateOrderFactory(command_id="key-1")
    retry = CreateOrderFactory(command_id="key-1", customer_id=create.customer_id, items=create.items)
    assert retry.order_id != create.order_id  # the API generates a fresh id on each attempt
    first = bus.handle(create)
    assert bus.handle(retry) == first
    assert list(log.streams) == [str(create.order_id)]


def test_the_same_command_id_with_another_payload_is_refused(bus: MessageBus, log: FakeLog) -> None:
    create = CreateOrderFactory()
    bus.handle(create)
    bus.handle(CancelOrderFactory(order_id=create.order_id, command_id="k", reason="one"))
    with pytest.raises(IdempotencyKeyReused):
        bus.handle(CancelOrderFactory(order_id=create.order_id, command_id="k", reason="two"))


def test_a_twin_committed_between_the_record_look_up_and_the_read_answers_from_its_record(
    bus: MessageBus, log: FakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    create = CreateOrderFactory()
    bus.handle(create)
    cancel = CancelOrderFactory(order_id=create.order_id, command_id="deadline-1")
    first = bus.handle(cancel)
    # The twin's record is not yet visible to this run's first look-up, but its effect is by
    # the time the order is read (READ COMMITTED: each statement sees the latest commits).
    looked_up: list[str] = []
    real_handled = FakeUnitOfWork.handled

    def late_record(self: FakeUnitOfWork, command_id: str) -> Any:
        looked_up.append(command_id)
        return None if len(looked_up) == 1 else real_handled(self, command_id)

    monkeypatch.setattr(FakeUnitOfWork, "handled", late_record)
    assert bus.handle(cancel) == first  # not "cannot cancel a CANCELLED order"
    assert len(log.streams[str(create.order_id)]) == 2
    with pytest.raises(IdempotencyKeyReused):  # a different payload under the id still is refused
        bus.handle(CancelOrderFactory(order_id=create.order_id, command_id="deadline-1", reason="other"))


def test_a_stale_expected_version_is_reported_not_retried(bus: MessageBus) -> None:
    create = CreateOrderFactory()
    bus.handle(create)
    with pytest.raises(VersionMismatch, match="Expected version 5"):
        bus.handle(ConfirmOrderFactory(order_id=create.order_id, expected_version=5))
    assert bus.handle(ConfirmOrderFactory(order_id=create.order_id, expected_version=1)).version == 2


def test_a_refused_command_appends_and_publishes_nothing(bus: MessageBus, log: FakeLog) -> None:
    create = CreateOrderFactory()
    bus.handle(create)
    with pytest.raises(InvalidTransition):
        bus.handle(PayOrderFactory(order_id=create.order_id, amount=total_of(create)))
    assert len(log.streams[str(create.order_id)]) == 1
    assert len(log.published) == 1
    assert len(log.commands) == 1


class RacingUnitOfWork(FakeUnitOfWork):
    """Lets another writer append to the stream just before this one commits, `races` times."""

    def __init__(self, log: FakeLog, races: list[int]) -> None:
        super().__init__(log)
        self.races = races

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None and self.races[0] > 0:
            self.races[0] -= 1
            order_id = self._staged[0][0]
            self.log.streams[order_id].append(
                OrderItemAdded(order_id=uuid4(), sku="X", quantity=1, unit_price=Decimal("1"))
            )
        super().__exit__(exc_type, exc, tb)


def test_the_bus_retries_a_conflict_on_fresh_state(log: FakeLog) -> None:
    create = CreateOrderFactory()
    MessageBus(uow_factory=lambda: FakeUnitOfWork(log)).handle(create)
    races = [2]
    bus = MessageBus(uow_factory=lambda: RacingUnitOfWork(log, races), max_attempts=3)
    result = bus.handle(AddOrderItem(order_id=create.order_id, sku="Y", quantity=1, unit_price=Decimal("1.00")))
    assert result == CommandResult(stream_id=str(create.order_id), version=4, position=result.position)


def test_the_bus_gives_up_after_its_attempts(log: FakeLog) -> None:
    create = CreateOrderFactory()
    MessageBus(uow_factory=lambda: FakeUnitOfWork(log)).handle(create)
    bus = MessageBus(uow_factory=lambda: RacingUnitOfWork(log, [10]), max_attempts=2)
    with pytest.raises(ConcurrencyConflict, match="after 2 attempts"):
        bus.handle(AddOrderItem(order_id=create.order_id, sku="Y", quantity=1, unit_price=Decimal("1.00")))


def test_item_changes_stop_where_the_longest_lifecycle_still_fits(log: FakeLog) -> None:
    bus = MessageBus(uow_factory=lambda: FakeUnitOfWork(log, max_events_per_order=10))
    bus.handle(RegisterProductFactory(sku="SKU-T"))
    lines = tuple(LineItem(sku=sku, quantity=1, unit_price=Decimal("5.00")) for sku in ("SKU-T", "SKU-U"))
    create = CreateOrderFactory(items=lines)
    order_id = create.order_id
    bus.handle(create)
    for _ in range(2):  # versions 2 to 5: ten events less the five the lifecycle may need
        bus.handle(AddOrderItem(order_id=order_id, sku="X", quantity=1, unit_price=Decimal("1.00")))
        bus.handle(RemoveOrderItem(order_id=order_id, sku="X"))
    published = len(log.published)
    for change in (
        AddOrderItem(order_id=order_id, sku="X", quantity=1, unit_price=Decimal("1.00")),
        RemoveOrderItem(order_id=order_id, sku="SKU-U"),
    ):
        with pytest.raises(BusinessRuleViolated, match="all the item and address changes it may have"):
            bus.handle(change)
    assert len(log.streams[str(order_id)]) == 5
    assert len(log.published) == published
    results = [
        bus.handle(ConfirmOrderFactory(order_id=order_id)),
        bus.handle(MarkStockReserved(order_id=order_id)),
        bus.handle(PayOrderFactory(order_id=order_id, amount=Decimal("10.00"))),
        bus.handle(ShipOrderFactory(order_id=order_id)),
        bus.handle(DeliverOrderFactory(order_id=order_id)),
    ]
    assert [result.version for result in results] == [6, 7, 8, 9, 10]


def test_a_cancel_fits_once_item_changes_are_used_up(log: FakeLog) -> None:
    bus = MessageBus(uow_factory=lambda: FakeUnitOfWork(log, max_events_per_order=6))
    create = CreateOrderFactory()
    bus.handle(create)
    with pytest.raises(BusinessRuleViolated):
        bus.handle(AddOrderItem(order_id=create.order_id, sku="X", quantity=1, unit_price=Decimal("1.00")))
    assert bus.handle(CancelOrderFactory(order_id=create.order_id)).version == 2


@pytest.mark.parametrize(("limit", "errors"), [(6, 0), (1000, 0), (5, 1), (0, 1)])
def test_a_limit_without_room_for_the_lifecycle_is_a_configuration_error(
    settings: Any, limit: int, errors: int
) -> None:
    settings.MAX_EVENTS_PER_ORDER = limit
    found = events_per_order_leave_room_for_the_lifecycle(None)
    assert [error.id for error in found] == ["orders.E001"] * errors
