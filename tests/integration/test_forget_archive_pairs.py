"""Forgetting a customer composes with moving their orders to cold storage and back: a forget
committed after any step of the archiver, or while `restore_stream` brings an order back in
the middle of the forgetting, leaves none of the customer's personal data readable in any
table of either database, in the archived or restored order's events, or in a rebuild (full
or from the rows carried with the segment).

The write side lists a forgotten customer's orders from the hot log only, so each of these
interleavings decides whether CustomerForgotten names the order; the read side must scrub it
either way (readmodels/forgetting.py, notifications/projection.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.db import connection
from django.utils import timezone

from archive.procedure import STEPS, archive_due
from archive.restoring import restore_stream
from eventlog import cold
from eventlog.store import EventStore, event_store
from orders.commands import ForgetCustomer
from projector.loop import read_database
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderDetail
from tests.support.archiving import Customer
from tests.support.concurrency import in_thread
from tests.support.read_side import ON_BOTH_DATABASES, read_models
from writeside.bus import handle

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]
CUSTOMER = Customer("c-forget-pairs", "archive-pairs-3r8d@example.org", "Perpetua Ashcombe", "Tinderbox Close 41")
LATER = timedelta(days=10_000)


def nothing_readable(order_id: UUID) -> None:
    """No table holds the customer's data; their order's events read as erased; both rebuilds
    (full, and from carried rows if the order is archived) give the live tables again."""
    cold._cache.clear()
    assert CUSTOMER.plain_copies() == {}
    created = event_store().read_stream(str(order_id), to_version=1)[0]
    assert (created.data["customer_email"], created.data["shipping_address"]["name"]) == (None, None)
    assert OrderDetail.objects.using(read_database()).get(order_id=order_id).customer_email == ""
    live = read_models()
    for from_archive_rows in (False, True):
        rebuild_by_name([], from_archive_rows=from_archive_rows)
        assert read_models() == live
        assert CUSTOMER.plain_copies() == {}


def forgotten_at_archiver_step(at: str) -> UUID:
    """Archive the customer's order, forgetting them right after the archiver's step `at`;
    `deleted` is inside the removal's transaction (the append lock held), so the forgetting
    runs on a connection of its own: it lists the order (the deletion is not committed yet)
    and appends once the archiver commits."""
    order_id = CUSTOMER.delivered_order()
    errors: list[BaseException] = []
    forgetting: list[threading.Thread] = []

    def step(name: str, _stream: str) -> None:
        if name != at or forgetting:
            return
        if name == "deleted":
            forgetting.append(in_thread(lambda: handle(ForgetCustomer(customer_id=CUSTOMER.customer_id)), errors))
        else:
            handle(ForgetCustomer(customer_id=CUSTOMER.customer_id))
            forgetting.append(threading.current_thread())

    archived = archive_due(now=timezone.now() + LATER, step=step).archived
    for thread in forgetting:
        if thread is not threading.current_thread():
            thread.join(30)
            assert not thread.is_alive()
    assert not errors
    assert forgetting, f"the archiver never reached {at!r}"
    assert archived == [str(order_id)]
    return order_id


@ON_BOTH_DATABASES
@pytest.mark.parametrize("at", STEPS)
def test_a_forget_after_any_step_of_the_archiver_leaves_nothing_readable(vendor: str, at: str) -> None:
    assert connection.vendor == vendor
    nothing_readable(forgotten_at_archiver_step(at))


@pytest.mark.postgres
def test_a_forget_racing_the_archivers_removal_leaves_nothing_readable() -> None:
    nothing_readable(forgotten_at_archiver_step("deleted"))


def restoring_while_listing(order_id: UUID, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forgetting, with the order restored to the log (by another connection, committed)
    just after the forgetting listed the customer's orders and before it deletes the key."""
    listing: Callable[..., list[str]] = EventStore.streams_with
    restored: list[int] = []
    errors: list[BaseException] = []

    def streams_with(store: EventStore, *args: Any) -> list[str]:
        found = listing(store, *args)
        if not restored:
            thread = in_thread(lambda: restored.append(restore_stream(str(order_id))), errors)
            thread.join(30)
            assert not thread.is_alive(), "the restore waited on the forgetting"
        return found

    monkeypatch.setattr(EventStore, "streams_with", streams_with)
    handle(ForgetCustomer(customer_id=CUSTOMER.customer_id))
    assert not errors
    assert restored == [5]


@ON_BOTH_DATABASES
@pytest.mark.parametrize("restored_first", [True, False], ids=["restored-then-forgotten", "forgotten-then-restored"])
def test_a_forget_and_a_restore_stream_in_either_order_leave_nothing_readable(
    vendor: str, restored_first: bool
) -> None:
    assert connection.vendor == vendor
    order_id = CUSTOMER.delivered_order()
    assert archive_due(now=timezone.now() + LATER).archived == [str(order_id)]
    if restored_first:
        restore_stream(str(order_id))
    handle(ForgetCustomer(customer_id=CUSTOMER.customer_id))
    if not restored_first:
        restore_stream(str(order_id))
    assert event_store().archived(str(order_id)) is None  # hot again
    nothing_readable(order_id)


@pytest.mark.postgres
def test_a_restore_stream_committed_while_the_forget_lists_the_orders_leaves_nothing_readable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The forgetting lists the order as archived (so CustomerForgotten does not name it), and
    the order is in the log again by the time the forgetting commits."""
    order_id = CUSTOMER.delivered_order()
    assert archive_due(now=timezone.now() + LATER).archived == [str(order_id)]
    restoring_while_listing(order_id, monkeypatch)
    assert event_store().archived(str(order_id)) is None
    nothing_readable(order_id)
