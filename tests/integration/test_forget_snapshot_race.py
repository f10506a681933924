"""Forgetting racing a snapshot, on PostgreSQL, step by step: a command that loaded an order
while its customer's key existed, and crosses SNAPSHOT_EVERY after the forgetting committed,
writes no snapshot from which the erased data can be read: it creates no key for the
customer, nor seals under the key the customer got when they came back since; an address
change racing it leaves the loaded data erased. Two real transactions, interleaved by
events: the command's handler holds between its load and its commit, while the forgetting
commits on another connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from eventlog.models import Snapshot, SubjectKey
from eventlog.personal import SEALED
from eventlog.store import event_store
from orders.addresses import Address
from orders.commands import ChangeShippingAddress, ConfirmOrder, CreateOrder, ForgetCustomer, LineItem
from orders.domain import Order
from orders.repository import ORDER_STATE_VERSION
from tests.integration.test_forget_races import in_thread
from writeside.bus import MessageBus, handle
from writeside.commands import Command
from writeside.unit_of_work import AbstractUnitOfWork, CommandResult, DjangoUnitOfWork

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CUSTOMER = "c-snap-race"
EMAIL = "snap-race-4k8w@example.org"
NAME = "Ysolde Marrowbright"


@pytest.fixture(autouse=True)
def every_second_event(settings: Any) -> None:
    """A snapshot at version 2: the held command's own event crosses it."""
    settings.SNAPSHOT_EVERY = 2
    settings.PROJECTIONS_INLINE = False
    settings.CELERY_TASK_ALWAYS_EAGER = False


def place() -> UUID:
    order_id = uuid4()
    handle(
        CreateOrder(
            order_id=order_id,
            customer_id=CUSTOMER,
            currency="EUR",
            items=(LineItem(sku="SKU-1", quantity=1, unit_price=Decimal("9.99")),),
            customer_email=EMAIL,
            shipping_address=Address(name=NAME, line1="Lantern Row 8", postal_code="1", city="Ulm", country="DE"),
        )
    )
    return order_id


class Held:
    """A handler that loads the order, says so, and waits for the test before it changes
    and commits it: the window in which the forgetting commits."""

    def __init__(self, change: Callable[[Order, Any], None]) -> None:
        self.change = change
        self.loaded, self.proceed = threading.Event(), threading.Event()

    def __call__(self, command: Any, uow: AbstractUnitOfWork) -> CommandResult:
        order = uow.repository(Order).get(command.order_id)
        self.loaded.set()
        assert self.proceed.wait(30)
        self.change(order, command)
        return uow.commit()


def race(command: Command, held: Held, between: Callable[[], object] | None = None) -> None:
    """Run `command` through a bus whose handler is `held`, and forget its customer (or run
    `between`) between the handler's load and its commit."""
    bus = MessageBus(handlers={type(command): held}, max_attempts=1)
    errors: list[BaseException] = []
    thread = in_thread(lambda: bus.handle(command), errors)
    try:
        assert held.loaded.wait(30)
        if between is None:
            handle(ForgetCustomer(customer_id=CUSTOMER))  # commits while the command holds
        else:
            between()
    finally:
        held.proceed.set()
        thread.join(30)
    assert not errors


def snapshot_of(order: UUID) -> dict[str, Any]:
    snapshot = event_store().latest_snapshot(str(order))
    assert snapshot is not None
    return dict(snapshot.state)


def test_a_snapshot_of_state_loaded_before_the_forgetting_holds_nothing_readable_and_makes_no_key() -> None:
    order = place()
    assert not Snapshot.objects.exists()

    race(ConfirmOrder(order_id=order), Held(lambda order, _command: order.confirm()))

    assert not SubjectKey.objects.filter(subject=CUSTOMER).exists()
    stored = Snapshot.objects.get(stream_id=str(order))
    assert stored.version == 2
    state = snapshot_of(order)
    assert (state["status"], state["customer_email"], state["shipping_address"]["name"]) == ("CONFIRMED", None, None)
    assert EMAIL not in str(stored.state)
    assert NAME not in str(stored.state)
    snapshot, events = event_store().load_stream(str(order), ORDER_STATE_VERSION)
    assert snapshot is not None
    assert not events


def test_a_snapshot_of_state_loaded_before_the_forgetting_is_not_sealed_under_the_key_the_customer_came_back_with() -> (
    None
):
    order = place()
    held = Held(lambda order, _command: order.confirm())

    def forget_and_come_back() -> None:
        handle(ForgetCustomer(customer_id=CUSTOMER))
        place()  # the customer orders again: a new key, for the new order's data

    race(ConfirmOrder(order_id=order), held, between=forget_and_come_back)

    new_key = SubjectKey.objects.get(subject=CUSTOMER)
    for stored in Snapshot.objects.filter(stream_id=str(order)):
        envelope = stored.state.get(SEALED)
        assert envelope is None or envelope["key"] != str(new_key.key_id)
    with DjangoUnitOfWork() as uow:
        state = uow.repository(Order).get(order).state
    assert state.shipping_address is not None
    assert (state.status, state.customer_email, state.shipping_address.name) == ("CONFIRMED", None, None)


def test_an_address_change_racing_the_forgetting_leaves_the_loaded_data_erased() -> None:
    order = place()
    moved = Address(name="Ysolde New", line1="Fresh Street 1", postal_code="2", city="Ulm", country="DE")

    race(
        ChangeShippingAddress(order_id=order, shipping_address=moved),
        Held(lambda order, command: order.change_shipping_address(command.shipping_address)),
    )

    # The command took the customer's key before the forgetting deleted it (its fingerprint
    # needs it): its new address was sealed under that key, and is erased with the rest.
    assert not SubjectKey.objects.filter(subject=CUSTOMER).exists()
    with DjangoUnitOfWork() as uow:
        state = uow.repository(Order).get(order).state
    assert state.shipping_address is not None
    assert (state.customer_email, state.shipping_address.name, state.shipping_address.city) == (None, None, "Ulm")
    stored = Snapshot.objects.get(stream_id=str(order))
    assert EMAIL not in str(stored.state)
