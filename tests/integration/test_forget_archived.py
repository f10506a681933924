"""Forgetting a customer whose orders were archived leaves none of their personal data in
the clear on the read side: not in the outbox (the recipient of the emails sent for those
orders), not in the customer directory, not in any other read-side table.

The write side lists the customer's orders from the hot log only, so CustomerForgotten
cannot name the archived ones; each read-side table must find them by customer id.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from archive.procedure import archive_due
from notifications.models import CustomerDirectory, Notification
from orders.addresses import Address
from orders.commands import ForgetCustomer
from projector.loop import read_database
from readmodels.models import OrderDetail, OrderSummary
from tests.support import archiving
from tests.support.read_side import ON_BOTH_DATABASES
from tests.support.verifying import CLEAN, verify_checks
from writeside.bus import handle

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]
CUSTOMER = "c-archived-forgotten"
EMAIL = "archived-9v3q@example.org"
NAME = "Ottoline Brackwater"
STREET = "Quillfeather Yard 12"
LATER = timedelta(days=10_000)


ADDRESS = Address(name=NAME, line1=STREET, postal_code="10115", city="Berlin", country="DE")
# An order with an e-mail and a named address, confirmed, shipped and delivered: two emails
# sent to the customer.
delivered_order = partial(archiving.delivered_order, CUSTOMER, customer_email=EMAIL, shipping_address=ADDRESS)


def clear_copies() -> dict[str, list[str]]:
    """Every row of either database holding the customer's e-mail, name or street in the clear."""
    return archiving.clear_copies(EMAIL, NAME, STREET)


@ON_BOTH_DATABASES
def test_forgetting_a_customer_whose_order_was_archived_leaves_no_address_in_the_outbox(vendor: str) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order()
    using = read_database()
    sent = Notification.objects.using(using).filter(order_id=order_id, status=Notification.Status.SENT)
    assert set(sent.values_list("recipient", flat=True)) == {EMAIL}  # the emails went out
    assert {message.to[0] for message in mail.outbox} == {EMAIL}
    assert CustomerDirectory.objects.using(using).get(customer_id=CUSTOMER).email == EMAIL
    assert str(order_id) in archive_due(now=timezone.now() + LATER).archived
    # The search finds plain copies where there are some: the outbox's among them.
    assert {table.split(".")[1] for table in clear_copies()} >= {
        Notification._meta.db_table,
        CustomerDirectory._meta.db_table,
        OrderSummary._meta.db_table,
    }

    handle(ForgetCustomer(customer_id=CUSTOMER))

    assert not CustomerDirectory.objects.using(using).filter(customer_id=CUSTOMER).exists()
    outbox = list(Notification.objects.using(using).filter(order_id=order_id).values())
    assert len(outbox) == 2  # confirmed and shipped: still recorded as sent, to nobody now
    for row in outbox:
        assert (row["status"], row["recipient"], row["last_error"]) == (Notification.Status.SENT, "", "")
    assert clear_copies() == {}


@ON_BOTH_DATABASES
def test_verify_names_an_address_left_on_an_archived_order_of_a_forgotten_customer(vendor: str) -> None:
    assert connection.vendor == vendor
    order_id = delivered_order()
    assert str(order_id) in archive_due(now=timezone.now() + LATER).archived
    handle(ForgetCustomer(customer_id=CUSTOMER))
    # An order the customer placed since, under a new key, archived too: theirs to keep.
    since = delivered_order()
    assert archive_due(now=timezone.now() + 2 * LATER).archived == [str(since)]
    assert OrderDetail.objects.using(read_database()).get(order_id=since).customer_email == EMAIL
    assert verify_checks("forgotten") == (0, CLEAN)
    # What the forgetting used to leave: the archived order's emails still naming the customer,
    # and its list row their e-mail.
    using = read_database()
    Notification.objects.using(using).filter(order_id=order_id).update(recipient=EMAIL)
    OrderDetail.objects.using(using).filter(order_id=order_id).update(customer_email=EMAIL)
    status, printed = verify_checks("forgotten")
    assert status == 1
    assert printed.count("still names its recipient") == 2
    assert f"order {order_id}'s detail holds personal data in the clear" in printed
