"""Forgotten customers on the read side: no personal data written after its erasure.

Guarantee: once a CustomerForgotten has been applied, no read-side transaction commits a
plain copy of that customer's personal data that came from before it, whichever partition,
projection or sender writes it and whenever it decoded the data. Without this, a projector
batch of an order's partition that unsealed an order's events just before the key was
deleted, and committed just after the forgetting was projected in the customer's (other)
partition, would leave the order's row in the clear; so would the customer directory.

How: `record` keeps, per forgotten customer, the position of their latest CustomerForgotten
(ForgottenCustomer). Whoever writes a customer's personal data, and whoever erases it,
first takes `guard`: on PostgreSQL a transaction-level advisory lock on one of STRIPES
stripes of customer ids, shared for writers (writers never wait for each other) and
exclusive for the erasure. Then, in a new statement (so READ COMMITTED sees what the
erasure committed while it waited), the writer reads `forgotten_at` and, for a customer
forgotten after the event its data came from, writes none: the orders projection refolds
the order from the log (its key is gone, so the old data reads as null, while data sealed
under a key created since the forgetting stays: a customer who ordered again keeps their
new order), the directory and the outbox keep no address from before. The erasure, holding
the exclusive lock, re-reads the rows after every writer that held the stripe committed.

Stripes bound the locks a batch takes (at most STRIPES, whatever the batch size) and cost
no WAL. The locks of one call are taken in stripe order; two projections of one batch each
take theirs, so two forgettings projected at once in two partitions may deadlock: PostgreSQL
detects it and the batch is retried whole, as for any OperationalError. SQLite needs no
lock: its transactions are IMMEDIATE (config/settings.py), so they already run one at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Mapping
from uuid import UUID

from django.db import connections

from readmodels.models import ForgottenCustomer, OrderSummary

STRIPES = 64
# The advisory-lock namespace (first key) of these stripes: b"FORG" as a 32-bit integer.
LOCK_SPACE = 0x464F5247


def stripe(customer_id: str) -> int:
    """The lock stripe of a customer: stable across processes (unlike hash())."""
    return zlib.crc32(customer_id.encode()) % STRIPES


def guard(using: str, *, writing: Collection[str] = (), erasing: Collection[str] = ()) -> None:
    """Lock the stripes of the customers whose personal data the transaction writes
    (shared) or erases (exclusive), until it ends; in stripe order, in one statement."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not (writing or erasing):
        return
    exclusive = {stripe(customer) for customer in erasing}
    shared = {stripe(customer) for customer in writing} - exclusive
    modes = sorted([(number, True) for number in exclusive] + [(number, False) for number in shared])
    sql = (
        "SELECT CASE WHEN exclusive THEN pg_advisory_xact_lock(%s, number)::text "
        "ELSE pg_advisory_xact_lock_shared(%s, number)::text END "
        "FROM unnest(%s::int[], %s::bool[]) WITH ORDINALITY AS stripes(number, exclusive, rank) ORDER BY rank"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [LOCK_SPACE, LOCK_SPACE, [n for n, _ in modes], [e for _, e in modes]])


def record(using: str, customer_id: str, position: int) -> None:
    """Remember that `customer_id` was forgotten at `position` (the later one wins)."""
    table = ForgottenCustomer._meta.db_table
    greatest = "GREATEST" if connections[using].vendor == "postgresql" else "MAX"
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, position) VALUES (%s, %s) ON CONFLICT (customer_id) "
            f"DO UPDATE SET position = {greatest}({table}.position, excluded.position)",
            [customer_id, position],
        )


def forgotten_at(using: str, customers: Collection[str]) -> Mapping[str, int]:
    """The position of the latest CustomerForgotten of those customers who were forgotten."""
    if not customers:
        return {}
    rows = ForgottenCustomer.objects.using(using).filter(customer_id__in=list(customers))
    return dict(rows.values_list("customer_id", "position"))


def orders_of(using: str, customers: Collection[str], listed: Iterable[UUID]) -> set[str]:
    """The forgotten `customers`' orders whose list and detail rows the orders projection must
    refold (and `verify` check): those their CustomerForgotten lists (`listed`), and those it
    cannot list, found by customer id in the order list: the write side scans only the hot log
    for a customer's orders, so an order archived before the forgetting (archive/) is named by
    no event, yet its rows still hold the customer's data. Only the orders projection asks:
    the order list is its own table, complete up to its own checkpoint even mid-rebuild; the
    notifications find their emails by the customer id each carries."""
    orders = {str(order_id) for order_id in listed}
    if customers:
        rows = OrderSummary.objects.using(using).filter(customer_id__in=sorted(customers))
        orders |= {str(order_id) for order_id in rows.values_list("order_id", flat=True)}
    return orders
