"""Forgetting a customer whose orders were archived, while the read models are rebuilt from
scratch (blue/green and in place, full replay and `--from-archive-rows`), leaves none of the
customer's personal data readable in any table of either database once both are done.

The forgetting is committed at each step of the rebuild while the worker that would project
it live is late: it reaches the outbox, the directory and the order rows through whichever
applies it first, the rebuild's replay or catch-up, or live projection after the swap. Before
the outbox's emails carried their customer, the replay found an archived order's emails
through the order list it was rebuilding at the same time: when the order's events and the
forgetting fell in one batch of the replay, the list did not hold the order yet, the live
checkpoint then moved past the forgetting, and the recipient stayed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.db import connection, connections
from django.utils import timezone

from archive.procedure import archive_due
from eventlog import cold
from notifications.models import Notification
from orders.commands import ForgetCustomer
from projector import shadow
from projector.loop import all_partitions, read_database
from projector.rebuild_progress import rebuild_by_name
from projector.running import run_partition
from tests.factories import CreateOrderFactory
from tests.support.archiving import Customer, delivered_order
from tests.support.concurrency import in_thread
from tests.support.read_side import ON_BOTH_DATABASES
from writeside.bus import handle

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]
CUSTOMER = Customer("c-forget-rebuilt", "rebuild-race-7h2m@example.org", "Wendeline Tarrowby", "Gallowglass Lane 3")
# Past every archive age: the delivered orders are due.
LATER = timedelta(days=10_000)
REPLAYING = "replaying"  # not a phase: after a batch of the replay (the progress callback)


@pytest.fixture(name="archived")
def a_customer_with_archived_orders() -> UUID:
    """A customer with an archived order (two emails sent to them) and a hot one, among other
    customers' orders; the search finds their data before anything is forgotten."""
    delivered_order("c-other-before", customer_email="other@example.org")
    order_id = CUSTOMER.delivered_order()
    assert str(order_id) in archive_due(now=timezone.now() + LATER).archived
    cold._cache.clear()
    handle(
        CreateOrderFactory(
            customer_id=CUSTOMER.customer_id, customer_email=CUSTOMER.email, shipping_address=CUSTOMER.address
        )
    )
    delivered_order("c-other-after", customer_email="other@example.org")
    sent = Notification.objects.using(read_database()).filter(order_id=order_id, recipient=CUSTOMER.email)
    assert sent.count() == 2
    assert Notification._meta.db_table in {table.split(".")[1] for table in CUSTOMER.plain_copies()}
    return order_id


def rebuild_racing_a_forget(settings: Any, at: str, *, from_archive_rows: bool) -> None:
    """Rebuild every read model, committing the forgetting at step `at`, with no live
    projection until the rebuild is over (a worker lagging behind the log); then the worker."""
    forgotten: list[str] = []
    errors: list[BaseException] = []

    def forget() -> None:
        if forgotten:
            return
        if connections[read_database()].in_atomic_block:  # inside the in-place rebuild's transaction
            thread = in_thread(lambda: handle(ForgetCustomer(customer_id=CUSTOMER.customer_id)), errors)
            thread.join(30)
            assert not thread.is_alive(), "the forgetting waited on the rebuild"
        else:
            handle(ForgetCustomer(customer_id=CUSTOMER.customer_id))
        forgotten.append(at)

    subscribers, settings.EVENT_SUBSCRIBERS = settings.EVENT_SUBSCRIBERS, []
    try:
        rebuild_by_name(
            [],
            progress=lambda _name, _position, _head: forget() if at == REPLAYING else None,
            phase=lambda step: forget() if step == at else None,
            from_archive_rows=from_archive_rows,
        )
    finally:
        settings.EVENT_SUBSCRIBERS = subscribers
    assert not errors
    assert forgotten == [at], f"the rebuild never reached {at!r}"
    for partition in all_partitions():  # the late worker
        while run_partition(partition):
            pass


def in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rebuild as a role that may not create tables runs it (and as SQLite always does)."""
    monkeypatch.setattr(shadow, "possible", lambda using: False)


BLUE_GREEN_STEPS = ["preparing", "loading", "catching up", "swapping"]


@pytest.mark.postgres
@pytest.mark.parametrize("at", BLUE_GREEN_STEPS)
def test_a_forget_racing_a_blue_green_full_replay_leaves_nothing_readable(
    archived: UUID, settings: Any, at: str
) -> None:
    rebuild_racing_a_forget(settings, at, from_archive_rows=False)
    assert CUSTOMER.plain_copies() == {}


@pytest.mark.postgres
@pytest.mark.parametrize("at", ["preparing", "restoring archived rows", "loading", "catching up", "swapping"])
def test_a_forget_racing_a_blue_green_rebuild_from_archive_rows_leaves_nothing_readable(
    archived: UUID, settings: Any, at: str
) -> None:
    rebuild_racing_a_forget(settings, at, from_archive_rows=True)
    assert CUSTOMER.plain_copies() == {}


@ON_BOTH_DATABASES
@pytest.mark.parametrize("from_archive_rows", [False, True], ids=["full", "from-archive-rows"])
def test_a_forget_just_before_an_in_place_rebuild_leaves_nothing_readable(
    vendor: str, archived: UUID, settings: Any, monkeypatch: pytest.MonkeyPatch, from_archive_rows: bool
) -> None:
    assert connection.vendor == vendor
    in_place(monkeypatch)
    rebuild_racing_a_forget(settings, "in place", from_archive_rows=from_archive_rows)
    assert CUSTOMER.plain_copies() == {}


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("at", "from_archive_rows"),
    [(REPLAYING, False), ("restoring archived rows", True), (REPLAYING, True)],
    ids=["full-replaying", "rows-restoring", "rows-replaying"],
)
def test_a_forget_committed_inside_an_in_place_rebuild_leaves_nothing_readable(
    archived: UUID, settings: Any, monkeypatch: pytest.MonkeyPatch, at: str, from_archive_rows: bool
) -> None:
    in_place(monkeypatch)
    rebuild_racing_a_forget(settings, at, from_archive_rows=from_archive_rows)
    assert CUSTOMER.plain_copies() == {}
