"""`manage.py verify` on the real databases (PostgreSQL: the read models compared in shadow
tables; SQLite: in a transaction rolled back): a clean system verifies with exit 0, and each
broken promise is caught, named, and exits 1: a tampered read-model row, an event the relay
has not published, a key or a plain personal field left for a forgotten customer, a
committed command without its audit row. A command projected while the fresh copy is built
is compared at the same position, not reported. The fresh replay writes no live table, not
even those the projections write without owning them (the notification outbox, the
forgotten customers)."""

from __future__ import annotations

import threading
from functools import partial
from io import StringIO
from typing import Any
from uuid import UUID

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connections

from audit.models import CommandAudit
from eventlog.append_only import maintenance_window
from eventlog.models import StoredEvent, SubjectKey
from eventlog.store import event_store
from notifications.models import CustomerDirectory, Notification
from orders.commands import ForgetCustomer
from projector import shadow
from projector.loop import all_partitions, read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from readmodels.models import DailySales, ForgottenCustomer, OrderDetail, OrderSummary
from tests.factories import CreateOrderFactory
from tests.support.convergence import converged
from tests.support.forgetting import place as place_order_of
from tests.support.read_side import ON_BOTH_DATABASES
from tests.support.services import Service
from tests.support.verifying import verify
from tests.support.waiting import eventually
from tests.support.workload import drive_orders
from writeside.bus import handle

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CUSTOMER = "c-verify"
EMAIL = "verify-8k2w@example.org"
place = partial(place_order_of, customer=CUSTOMER, email=EMAIL, name="Ilse Verity")
RELAY = "integration.relay.RelayProjection"


@pytest.fixture(autouse=True)
def inline(settings: Any) -> None:
    """Commands are projected in-process as they commit: the live read models are current."""
    settings.PROJECTIONS_INLINE = True


def no_shadow_left() -> bool:
    connection = connections[read_database()]
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [shadow.SHADOW])
        return bool(cursor.fetchone()[0] == 0)


@ON_BOTH_DATABASES
def test_a_clean_system_verifies_with_exit_0(vendor: str) -> None:
    assert connections["default"].vendor == vendor
    drive_orders(8, seed=5)
    place()
    handle(ForgetCustomer(customer_id=CUSTOMER))
    status, printed = verify()
    assert (status, printed.strip()) == (0, "The books verify: no divergence.")
    assert no_shadow_left()


@ON_BOTH_DATABASES
def test_a_tampered_read_model_row_is_named_and_left_as_it_is(vendor: str) -> None:
    orders = drive_orders(5, seed=7)
    using = read_database()
    OrderSummary.objects.using(using).filter(order_id=orders[2]).update(status="DELIVERED", item_count=99)
    day = DailySales.objects.using(using).order_by("day").first()
    assert day is not None
    DailySales.objects.using(using).filter(pk=day.pk).update(orders_placed=day.orders_placed + 1)
    OrderDetail.objects.using(using).filter(order_id=orders[3]).delete()

    status, printed = verify("--check", "read-models")

    assert status == 1
    differs = "1 row(s) whose live copy differs from the log's"
    assert f"[read-models] orders: readmodels_ordersummary: {differs}: {orders[2]}" in printed
    missing = "1 row(s) whose live copy is missing; the log has it"
    assert f"[read-models] orders: readmodels_orderdetail: {missing}: {orders[3]}" in printed
    assert f"[read-models] sales: readmodels_dailysales: {differs}: {day.day}/{day.currency}" in printed
    assert OrderSummary.objects.using(using).get(order_id=orders[2]).item_count == 99  # reported, never repaired
    assert no_shadow_left()


@ON_BOTH_DATABASES
def test_the_fresh_replay_leaves_the_notification_outbox_and_the_forgotten_customers_as_they_are(
    vendor: str,
) -> None:
    orders = drive_orders(4, seed=23)
    place()
    handle(ForgetCustomer(customer_id=CUSTOMER))
    using = read_database()
    # Rows a replay of the log would write again: an email's row pruned once it was sent, and
    # a forgetting recorded at a position other than the log's.
    pruned = Notification.objects.using(using).filter(order_id__in=orders)
    assert pruned.exists()
    pruned.delete()
    forgotten = ForgottenCustomer.objects.using(using).get(customer_id=CUSTOMER)
    ForgottenCustomer.objects.using(using).filter(pk=forgotten.pk).update(position=forgotten.position - 1)

    def rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        outbox = Notification.objects.using(using).order_by("event_id").values_list()
        customers = ForgottenCustomer.objects.using(using).order_by("customer_id").values_list()
        return list(outbox), list(customers)

    before = rows()
    status, printed = verify("--check", "read-models")
    assert (status, printed.strip()) == (0, "The books verify: no divergence."), printed
    assert rows() == before
    assert no_shadow_left()


@pytest.mark.postgres
def test_a_role_that_may_not_make_shadow_tables_compares_in_a_transaction_it_rolls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orders = drive_orders(3, seed=19)
    using = read_database()
    OrderSummary.objects.using(using).filter(order_id=orders[0]).update(item_count=77)
    rows = OrderDetail.objects.using(using).count()
    monkeypatch.setattr(shadow, "possible", lambda using: False)

    status, printed = verify("--check", "read-models")

    assert status == 1
    differs = "1 row(s) whose live copy differs from the log's"
    assert f"[read-models] orders: readmodels_ordersummary: {differs}: {orders[0]}" in printed
    assert OrderSummary.objects.using(using).get(order_id=orders[0]).item_count == 77
    assert OrderDetail.objects.using(using).count() == rows
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'verify_live_%%'")
        assert cursor.fetchone()[0] == 0


@pytest.mark.postgres
def test_a_command_projected_while_the_shadow_loads_is_compared_at_the_same_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drive_orders(4, seed=9)
    loaded = shadow.catch_up
    during: list[UUID] = []

    def catch_up_then_a_command(*args: Any, **kwargs: Any) -> int:
        reached = loaded(*args, **kwargs)
        # The live tables move past the shadow: the comparison must bring the shadow there.
        during.append(UUID(handle(CreateOrderFactory()).stream_id))
        return reached

    monkeypatch.setattr(shadow, "catch_up", catch_up_then_a_command)
    status, printed = verify("--check", "read-models")
    assert during
    assert OrderSummary.objects.using(read_database()).filter(order_id=during[0]).exists()
    assert printed.strip() == "The books verify: no divergence."
    assert status == 0


@ON_BOTH_DATABASES
def test_a_live_projection_behind_the_log_is_never_reported_as_diverging_rows(vendor: str, settings: Any) -> None:
    drive_orders(3, seed=17)
    settings.EVENT_SUBSCRIBERS = []  # nothing projects the next command: the live tables fall behind
    behind = UUID(handle(CreateOrderFactory()).stream_id)
    assert not OrderSummary.objects.using(read_database()).filter(order_id=behind).exists()

    status, printed = verify("--check", "read-models")

    if vendor == "sqlite":
        # In place, the fresh copy is replayed up to the live checkpoints exactly.
        assert (status, printed.strip()) == (0, "The books verify: no divergence.")
    else:
        # The shadow holds the new order; the live tables do not yet: not compared, and said so.
        assert status == 1
        assert "row(s)" not in printed
        assert "[read-models] orders: the live projection did not reach the log position of the fresh copy" in printed
    assert no_shadow_left()


@pytest.mark.postgres
@pytest.mark.worker
def test_commands_and_a_worker_going_on_throughout_make_no_divergence(worker: Service) -> None:
    drive_orders(6, seed=23)
    eventually(converged, message="the worker to project every event")
    stop, errors, placed = threading.Event(), [], []

    def load() -> None:
        try:
            while not stop.is_set():
                placed.append(handle(CreateOrderFactory()).stream_id)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=load)
    thread.start()
    out = StringIO()
    try:
        call_command("verify", "--check", "read-models", "--wait", "60", stdout=out)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(placed) > 1  # commands committed while the copy was built and compared
    assert out.getvalue().strip() == "The books verify: no divergence."


def relay_at(positions: dict[int, int]) -> None:
    using = read_database()
    for partition, position in positions.items():
        ProjectionCheckpoint.objects.using(using).update_or_create(
            projection="relay", partition=partition, defaults={"position": position}
        )


@ON_BOTH_DATABASES
def test_an_event_the_relay_has_not_published_is_named(vendor: str, settings: Any) -> None:
    drive_orders(4, seed=11)
    head = event_store().head_position()
    # The relay joins after the commands (no broker is needed to read its checkpoints).
    settings.PROJECTIONS = [*django_settings.PROJECTIONS, RELAY]
    relay_at(dict.fromkeys(all_partitions(), head))
    assert verify("--check", "relay") == (0, "The books verify: no divergence.\n")

    created = StoredEvent.objects.filter(event_type="OrderCreated").order_by("position").first()
    assert created is not None
    partition = partition_of_bucket(created.bucket)
    DeadLetter.objects.using(read_database()).create(
        projection="relay",
        position=created.position,
        event_id=created.event_id,
        event_type=created.event_type,
        stream_id=created.stream_id,
        status=DeadLetter.Status.PARKED,
    )
    status, printed = verify("--check", "relay")
    assert (status, printed) == (
        1,
        f"[relay] event #{created.position}: OrderCreated of {created.stream_id} is not published:"
        " a dead letter of the relay (parked)\n",
    )

    relay_at({partition: created.position - 1})
    status, printed = verify("--check", "relay")
    assert status == 1
    assert f"[relay] partition {partition}: " in printed
    before = created.position - 1
    assert f"the relay's checkpoint is at {before}, the first unpublished event at {created.position}" in printed


@ON_BOTH_DATABASES
def test_a_key_left_for_a_forgotten_customer_is_named(vendor: str) -> None:
    place()
    key = SubjectKey.objects.get(subject=CUSTOMER)
    handle(ForgetCustomer(customer_id=CUSTOMER))
    assert verify("--check", "forgotten")[0] == 0

    SubjectKey.objects.create(subject=CUSTOMER, key_id=key.key_id, secret=bytes(key.secret))

    status, printed = verify("--check", "forgotten")
    assert status == 1
    assert f"[forgotten] customer {CUSTOMER} (forgotten at #" in printed
    assert f"the key {key.key_id} that sealed their data still exists" in printed


@ON_BOTH_DATABASES
def test_a_readable_personal_field_left_for_a_forgotten_customer_is_named(vendor: str) -> None:
    order_id = place()
    handle(ForgetCustomer(customer_id=CUSTOMER))
    OrderDetail.objects.using(read_database()).filter(order_id=order_id).update(customer_email=EMAIL)
    first = StoredEvent.objects.filter(stream_id=str(order_id)).order_by("position").first()
    assert first is not None
    CustomerDirectory.objects.using(read_database()).create(customer_id=CUSTOMER, email=EMAIL, position=first.position)

    status, printed = verify("--check", "forgotten")
    assert status == 1
    assert f"order {order_id}'s detail holds personal data in the clear" in printed
    assert f"[forgotten] customer {CUSTOMER} (forgotten at #" in printed
    assert "the customer directory still has their address" in printed


@ON_BOTH_DATABASES
def test_a_committed_command_without_its_audit_row_is_named(vendor: str) -> None:
    drive_orders(2, seed=13)
    command = CreateOrderFactory()
    handle(command)
    assert verify("--check", "audit")[0] == 0
    with maintenance_window(django_settings.EVENTLOG_DATABASE):
        CommandAudit.objects.filter(command_id=command.command_id).delete()

    status, printed = verify("--check", "audit")
    assert status == 1
    assert f"[audit] command {command.command_id}: CreateOrder committed at " in printed
    assert "has no audit row" in printed
