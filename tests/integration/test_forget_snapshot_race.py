"""Forgetting racing a snapshot, on PostgreSQL, step by step: a command that loaded an order
while its customer's key existed, and crosses SNAPSHOT_EVERY after the forgetting committed,
writes no snapshot from which the erased data can be read: it creates no key for the
customer, nor seals under the key the customer got when they came back since; an address
change racing it leaves the loaded data erased. Two real transactions, interleaved by
events: the command's handler holds between its load and its commit, while the forgetting
commits on another connection."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from eventlog.models import Snapshot, SubjectKey
from eventlog.personal import SEALED
from eventlog.store import event_store
from orders.addresses import Address
from orders.commands import ChangeShippingAddress, ConfirmOrder, ForgetCustomer
from orders.domain import Order
from orders.repository import ORDER_STATE_VERSION
from tests.support.forgetting import CUSTOMER, EMAIL, NAME, Held, every_second_event, place, race  # noqa: F401 (autouse fixture)
from writeside.bus import handle
from writeside.unit_of_work import DjangoUnitOfWork

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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
