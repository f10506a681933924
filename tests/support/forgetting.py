"""The forget-customer race scenario: a customer with personal data (`place`, which other
forgetting tests use with customers of their own), a command held mid-way while forgetting
runs, and snapshots taken every second event so the held command crosses one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from orders.addresses import Address
from orders.commands import CreateOrder, ForgetCustomer, LineItem
from orders.domain import Order
from tests.support.concurrency import in_thread
from writeside.bus import MessageBus, handle
from writeside.commands import Command
from writeside.unit_of_work import AbstractUnitOfWork, CommandResult

CUSTOMER = "c-snap-race"


EMAIL = "snap-race-4k8w@example.org"


NAME = "Ysolde Marrowbright"


@pytest.fixture(autouse=True)
def every_second_event(settings: Any) -> None:
    """A snapshot at version 2: the held command's own event crosses it."""
    settings.SNAPSHOT_EVERY = 2
    settings.PROJECTIONS_INLINE = False
    settings.CELERY_TASK_ALWAYS_EAGER = False


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


def place(customer: str = CUSTOMER, email: str = EMAIL, name: str = NAME) -> UUID:
    """An order from `customer`, with personal data to forget: an e-mail and an address."""
    order_id = uuid4()
    address = Address(name=name, line1="Lantern Row 8", postal_code="10115", city="Berlin", country="DE")
    handle(
        CreateOrder(
            order_id=order_id,
            customer_id=customer,
            currency="EUR",
            items=(LineItem(sku="SKU-1", quantity=1, unit_price=Decimal("9.99")),),
            customer_email=email,
            shipping_address=address,
        )
    )
    return order_id


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
