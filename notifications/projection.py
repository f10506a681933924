"""The `notifications` projection: the customer directory, and one email owed per
OrderConfirmed, OrderShipped and OrderCancelled.

It runs in the projector's transaction like every projection, so the emails a batch owes
are recorded atomically with the checkpoint; sending happens after commit (sending.py).

Each email owed records whose order it is for (`customer_id`, from the order's OrderCreated:
in the batch, else an earlier email of the order, else the log, read as stored: the customer
id is never sealed, so no key is looked up), in the row it inserts, so
every version of the row names its customer. CustomerForgotten removes the customer's
directory entry and the recipient (and the last error, which may quote it) of the emails owed
to them, found by that id, each only if it came from before the forgetting: an address the
customer gave since is theirs to keep. No other table is asked which orders are theirs: the
event lists only the orders of the hot log (one archived before the forgetting is in none),
and the order list may be being rebuilt from scratch in the same replay, so it need not hold
an archived order yet when a rebuild applies the forgetting (tests/integration/
test_forget_rebuild_race.py). Emails still pending find no address afterwards (the order's
e-mail reads as null) and end as no_address.
An address is recorded under its customer's lock stripe, and not at all if the read side has
seen the customer forgotten after it (readmodels/forgetting.py): a batch that decoded an
order just before the key was deleted cannot put it back after the forgetting removed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from eventlog.recorded import RecordedEvent
from eventlog.store import event_store
from eventlog.stored_values import first_event_values
from notifications.models import CustomerDirectory, Notification
from orders.events import CustomerForgotten, OrderCancelled, OrderConfirmed, OrderCreated, OrderShipped
from projector.bulk import insert_new_rows
from projector.carried import opened
from projector.projection import Projection, Sealer
from readmodels.forgetting import forgotten_at, guard, record
from readmodels.models import ForgottenCustomer

EventT = TypeVar("EventT")

KINDS: dict[type, Notification.Kind] = {
    OrderConfirmed: Notification.Kind.ORDER_CONFIRMED,
    OrderShipped: Notification.Kind.ORDER_SHIPPED,
    OrderCancelled: Notification.Kind.ORDER_CANCELLED,
}


def _events(events: Sequence[RecordedEvent], kind: type[EventT]) -> list[EventT]:
    return [recorded.event for recorded in events if isinstance(recorded.event, kind)]


class CarriedAddress:
    """The personal field of an address carried into cold storage (eventlog/personal.py)."""

    personal_fields: ClassVar[tuple[str, ...]] = ("email",)
    data_subject: ClassVar[str] = "customer_id"


class NotificationsProjection(Projection):
    """Customer addresses from the orders, and the outbox of emails to send."""

    name = "notifications"
    # Only the directory is rebuilt. The outbox survives a rebuild, which then finds every
    # event's email already owed (keyed by event id) and so never mails anyone twice.
    tables = (CustomerDirectory,)
    writes_beside = (Notification, ForgottenCustomer)
    # Skipping a forgetting would leave the customer's address and recipient in place.
    never_skipped = frozenset({CustomerForgotten.__name__})

    # Carried: each archived order's address, sealed (projector/carried.py). The outbox is
    # not rebuilt, so nothing of it is carried.
    carry_version = 1

    def carry(self, events: Sequence[RecordedEvent], seal: Sealer) -> Any:
        """The address the order was placed with, and its position, sealed."""
        created = next((recorded for recorded in events if isinstance(recorded.event, OrderCreated)), None)
        if created is None or not created.event.customer_email:
            return None
        address = {
            "customer_id": created.event.customer_id,
            "position": created.position,
            "email": created.event.customer_email,
        }
        return seal(CarriedAddress, address)

    def restore_carried(self, carried: Sequence[tuple[str, Any]], using: str) -> None:
        """The newest carried address per customer, recorded as `apply` records them (none
        from before a forgetting); an address whose key is gone reads as none, as in a replay."""
        addresses: dict[str, tuple[int, str]] = {}
        for row in opened([row for _, row in carried if row], event_store().using):
            if row is None or not row["email"]:
                continue
            customer, position = str(row["customer_id"]), int(row["position"])
            if position > addresses.get(customer, (0, ""))[0]:
                addresses[customer] = (position, str(row["email"]))
        self._record_addresses(addresses, using)

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Record the newest address per customer and owe the batch's emails."""
        addresses: dict[str, tuple[int, str]] = {}
        owed: list[dict[str, Any]] = []
        now = timezone.now()
        # A fresh read database rebuilt from an old log must not mail customers about last
        # year's orders: emails for events older than this are recorded as expired.
        horizon = now - timedelta(seconds=float(settings.NOTIFICATION_MAX_AGE_SECONDS))
        guard(
            using,
            writing={event.customer_id for event in _events(events, OrderCreated) if event.customer_email},
            erasing={event.customer_id for event in _events(events, CustomerForgotten)},
        )
        customers: dict[str, str] = {}  # order -> customer, from the batch's OrderCreated
        for recorded in events:
            event = recorded.event
            if isinstance(event, OrderCreated):
                customers[recorded.stream_id] = event.customer_id
            if isinstance(event, CustomerForgotten):
                self._record_addresses(addresses, using)  # those before it, so it erases them too
                addresses = {}
                self._forget(event, recorded.position, using)
            if isinstance(event, OrderCreated) and event.customer_email:
                addresses[event.customer_id] = (recorded.position, event.customer_email)
            kind = KINDS.get(type(event))
            if kind is None:
                continue
            fresh = recorded.recorded_at >= horizon
            owed.append(
                {
                    "event_id": recorded.event_id,
                    "kind": kind.value,
                    "order_id": UUID(recorded.stream_id),
                    "customer_id": customers.get(recorded.stream_id),
                    "order_version": recorded.version,
                    "position": recorded.position,
                    "status": (Notification.Status.PENDING if fresh else Notification.Status.EXPIRED).value,
                    "recipient": "",
                    "subject": "",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                    "occurred_at": recorded.recorded_at,
                    "sent_at": None,
                }
            )
        self._record_addresses(addresses, using)
        unknown = {str(row["order_id"]) for row in owed if row["customer_id"] is None}
        customers.update(customers_of(unknown, using))
        for row in owed:
            row["customer_id"] = customers.get(str(row["order_id"]), "")
        # Keyed by event id: a redelivered or rebuilt event owes no second email.
        insert_new_rows(using, Notification, owed, key="event_id")
        if any(row["status"] == Notification.Status.PENDING for row in owed):
            from notifications.sending import send_soon

            transaction.on_commit(send_soon, using=using)

    def _forget(self, forgotten: CustomerForgotten, position: int, using: str) -> None:
        record(using, forgotten.customer_id, position)
        CustomerDirectory.objects.using(using).filter(customer_id=forgotten.customer_id, position__lt=position).delete()
        # By the customer id each row carries since it was inserted: a sender holding a row
        # (FOR UPDATE) to record its recipient holds a row this UPDATE matches in every
        # version, so the UPDATE waits for that commit and blanks what it recorded.
        Notification.objects.using(using).filter(customer_id=forgotten.customer_id, position__lt=position).update(
            recipient="", last_error=""
        )

    def _record_addresses(self, addresses: dict[str, tuple[int, str]], using: str) -> None:
        forgotten = forgotten_at(using, addresses)
        addresses = {
            customer: (position, email)
            for customer, (position, email) in addresses.items()
            if position > forgotten.get(customer, 0)
        }
        if not addresses:
            return
        table = CustomerDirectory._meta.db_table
        rows = sorted((customer, email, position) for customer, (position, email) in addresses.items())
        # Partitions project in parallel, so an older address may arrive after a newer one:
        # the row keeps whichever came from the later position.
        sql = (
            f"INSERT INTO {table} (customer_id, email, position) VALUES "
            + ", ".join(["(%s, %s, %s)"] * len(rows))
            + f" ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, position = excluded.position"
            f" WHERE {table}.position < excluded.position"
        )
        with connections[using].cursor() as cursor:
            cursor.execute(sql, [value for row in rows for value in row])


def customers_of(orders: set[str], using: str) -> dict[str, str]:
    """The customer of each of `orders` (order ids), as far as they are known: from the
    emails already owed for the order, else from its OrderCreated in the log (or its segment)."""
    if not orders:
        return {}
    owed = Notification.objects.using(using).filter(order_id__any=[UUID(order) for order in orders])
    found = {
        str(order_id): customer
        for order_id, customer in owed.exclude(customer_id="").values_list("order_id", "customer_id").distinct()
    }
    # The customer id is the OrderCreated's data subject, never sealed: read as stored, it needs
    # no key looked up and no event decoded (eventlog/stored_values.py).
    created = first_event_values(event_store(), sorted(orders - found.keys()), OrderCreated.__name__, "customer_id")
    found.update({order: str(customer) for order, customer in created.items() if customer is not None})
    return found
