"""The sales totals are exact on both databases: a shop run across days (orders paid,
cancelled with money owed back, refunded in parts, returned) verifies clean, the read
models against a fresh replay of the log included.

On the embedded default the running sums (revenue, what cancellations owed back, refunds
paid, lifetime value) live in SQLite, which keeps a decimal column as a binary float: added
there, 0.10 then 0.20 made 0.30000000000000004 live, where a replay that met both payments
in one batch wrote 0.3, and `manage.py verify` named the day and the customer as diverging.
Two orders in one partition, paid 0.10 and 0.20 on the same day in a currency of their own,
make that happen on every run, whatever the seeded shop does."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from eventlog.buckets import bucket_of
from orders.commands import CancelOrder, ConfirmOrder, CreateOrder, LineItem, PayOrder, RefundOrder
from projector.loop import read_database
from projector.partitions import partition_of_bucket
from readmodels.models import CustomerLifetimeValue, DailySales
from tests.support.read_side import ON_BOTH_DATABASES
from tests.support.verifying import CLEAN, seed_demo, verify
from writeside.bus import handle

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CUSTOMER = "c-cents"


@pytest.fixture(autouse=True)
def inline(settings: object) -> None:
    """Each command is projected as it commits: one increment per command, live."""
    settings.PROJECTIONS_INLINE = True  # type: ignore[attr-defined]


def in_partition_of(order_id: UUID) -> UUID:
    """A fresh order id whose stream the same projection partition reads as `order_id`'s."""
    partition = partition_of_bucket(bucket_of(str(order_id)))
    while partition_of_bucket(bucket_of(str(candidate := uuid4()))) != partition:
        pass
    return candidate


def paid(order_id: UUID, amount: str) -> None:
    line = LineItem(sku="CENT", quantity=1, unit_price=Decimal(amount))
    handle(CreateOrder(order_id=order_id, customer_id=CUSTOMER, currency="USD", items=(line,)))
    handle(ConfirmOrder(order_id=order_id))
    handle(PayOrder(order_id=order_id, payment_id=f"p-{order_id}", amount=Decimal(amount)))


@ON_BOTH_DATABASES
def test_a_shop_run_across_days_verifies_clean(vendor: str) -> None:
    seed_demo(orders=30, days=6, seed=11)  # every state, over six days, under the seeder's clock
    first = uuid4()
    second = in_partition_of(first)
    paid(first, "0.10")
    paid(second, "0.20")
    handle(CancelOrder(order_id=second, reason="changed their mind"))
    handle(RefundOrder(order_id=second, refund_id="r-1", amount=Decimal("0.05")))
    handle(RefundOrder(order_id=second, refund_id="r-2", amount=Decimal("0.15")))

    using = read_database()
    day = DailySales.objects.using(using).get(currency="USD")
    assert (day.revenue, day.refunded, day.refunds_paid) == (Decimal("0.30"), Decimal("0.20"), Decimal("0.20"))
    assert CustomerLifetimeValue.objects.using(using).get(customer_id=CUSTOMER).amount == Decimal("0.10")
    assert DailySales.objects.using(using).filter(currency="EUR").count() >= 5  # the seeded days
    assert verify() == (0, CLEAN)
