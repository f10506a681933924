"""The forgetting check: nothing a forgotten customer gave before their forgetting is readable.

The guarantees it checks (eventlog/personal.py, readmodels/forgetting.py,
notifications/projection.py): forgetting a customer deletes the key that sealed their
personal data, in the transaction that appends CustomerForgotten, so every sealed copy (events,
snapshots) reads as None; and the read side keeps no plain copy that came from before it. So
for each customer's latest CustomerForgotten, at position F, listing their orders:

* no key that sealed an event of those orders before F may exist (and so no snapshot of
  those orders may be sealed under one): data given after F has a new key, which stays;
* no order's read-model row may hold personal data in the clear, unless the order has data
  sealed under a key that exists (given after F; the read-model check compares such rows
  with the log);
* no directory entry of the customer, and no recipient of an email owed for one of those
  orders, may come from before F.

The read-side part also covers the orders the event cannot list, those archived before F
(the write side lists only the hot log's), found by customer id as the erasure finds them.

The key goes in the transaction of the event, so keys and snapshots are checked for every
forgetting. The read side erases when it applies the event, so the read-side part is checked
only for a forgetting every read model (every rebuildable projection) has applied, by their
checkpoints of the event's partition: one still under way would read as a divergence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from eventlog.models import ArchivedStream, Snapshot, StoredEvent, SubjectKey
from eventlog.personal import SEALED, has_personal_data, key_ids
from orders.events import CustomerForgotten, OrderCreated
from projector.loop import read_database
from projector.models import ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.registry import all_projections
from projector.verification import Divergence, Options
from readmodels.forgetting import orders_of
from readmodels.models import OrderDetail

CHECK = "forgotten"

# What else on the read side may hold a plain copy of a forgotten customer's personal data:
# (customer, the forgetting's position, their orders, the read database) -> what still does.
# Registered by its owner (notifications' AppConfig: the directory and the outbox), so this
# check knows no package above the read models.
PlainCopies = Callable[[str, int, list[str], str], list[str]]
PLAIN_COPIES: list[PlainCopies] = []


def register_plain_copies(finder: PlainCopies) -> None:
    """Have the check also report what `finder` says still holds a forgotten customer's data."""
    if finder not in PLAIN_COPIES:
        PLAIN_COPIES.append(finder)


def forgotten_customers(options: Options) -> list[Divergence]:
    """What of each forgotten customer is still readable (see the module docstring)."""
    log, using = settings.EVENTLOG_DATABASE, read_database()
    applied = _applied_through(using)
    latest: dict[str, tuple[int, int, list[str]]] = {}
    forgettings = StoredEvent.objects.using(log).filter(event_type=CustomerForgotten.__name__).order_by("position")
    for position, bucket, data in forgettings.values_list("position", "bucket", "data"):
        orders = [str(order_id) for order_id in data.get("order_ids", ())]
        latest[str(data["customer_id"])] = (position, partition_of_bucket(bucket), orders)
    found: list[Divergence] = []
    for customer, (position, partition, orders) in sorted(latest.items()):
        found += _sealed(customer, position, orders, log)
        if applied.get(partition, 0) >= position:
            found += _plain(customer, position, _with_archived(customer, position, orders, log, using), log, using)
    return found


def _with_archived(customer: str, forgotten: int, orders: list[str], log: str, using: str) -> list[str]:
    """`orders` and those the forgetting cannot list, found by customer id as the erasure
    finds them (readmodels/forgetting.py): orders archived before it (the write side lists
    the hot log's only), less those archived that began after it (their data is sealed under
    a key given since, theirs to keep; a hot one is told apart by its key in `_plain`)."""
    extra = orders_of(using, {customer}, ()) - set(orders)
    archived = ArchivedStream.objects.using(log).filter(stream_id__in=sorted(extra), first_position__gt=forgotten)
    return sorted({*orders, *extra} - set(archived.values_list("stream_id", flat=True)))


def _applied_through(using: str) -> dict[int, int]:
    """Per partition, the position every read model (rebuildable projection) has applied."""
    names = [name for name, projection in all_projections().items() if projection.rebuildable]
    rows = ProjectionCheckpoint.objects.using(using).filter(projection__in=names)
    positions: dict[int, list[int]] = {}
    for partition, position in rows.values_list("partition", "position"):
        positions.setdefault(partition, []).append(position)
    return {partition: min(found) for partition, found in positions.items() if len(found) == len(names)}


def _subject(customer: str, forgotten: int) -> str:
    return f"customer {customer} (forgotten at #{forgotten})"


def _sealed(customer: str, forgotten: int, orders: list[str], log: str) -> list[Divergence]:
    """The keys that sealed their data before the forgetting, and snapshots under them."""
    subject = _subject(customer, forgotten)
    before = StoredEvent.objects.using(log).filter(stream_id__in=orders, position__lt=forgotten)
    kept = _existing_keys(key_ids(before.values_list("data", flat=True)), log)
    found = [Divergence(CHECK, subject, f"the key {key} that sealed their data still exists") for key in sorted(kept)]
    for stream_id, state in Snapshot.objects.using(log).filter(stream_id__in=orders).values_list("stream_id", "state"):
        if _sealed_by(state) in kept:
            found.append(Divergence(CHECK, subject, f"the snapshot of order {stream_id} can be decrypted"))
    return found


def _plain(customer: str, forgotten: int, orders: list[str], log: str, using: str) -> list[Divergence]:
    """Plain copies on the read side that came from before the forgetting."""
    subject = _subject(customer, forgotten)
    events = StoredEvent.objects.using(log).filter(stream_id__in=orders)
    found: list[Divergence] = []
    existing = _existing_keys(key_ids(events.values_list("data", flat=True)), log)
    renewed = {
        stream_id
        for stream_id, data in events.values_list("stream_id", "data")
        if isinstance(data, Mapping) and _sealed_by(data) in existing
    }
    for row in OrderDetail.objects.using(using).filter(order_id__in=orders).values():
        if str(row["order_id"]) not in renewed and has_personal_data(OrderCreated, row):
            found.append(
                Divergence(CHECK, subject, f"order {row['order_id']}'s detail holds personal data in the clear")
            )
    for finder in PLAIN_COPIES:
        found += [Divergence(CHECK, subject, what) for what in finder(customer, forgotten, orders, using)]
    return found


def _sealed_by(data: Any) -> str | None:
    envelope = data.get(SEALED) if isinstance(data, Mapping) else None
    return str(envelope["key"]) if isinstance(envelope, Mapping) else None


def _existing_keys(wanted: set[str], log: str) -> set[str]:
    rows = SubjectKey.objects.using(log).filter(key_id__in=wanted).values_list("key_id", flat=True)
    return {str(key) for key in rows}
