"""The notifications' part of `verify`'s forgetting check (readmodels/verification.py): neither
the customer directory nor an email owed keeps the address of a customer from before their
forgetting (notifications/projection.py erases both when it applies the forgetting)."""

from __future__ import annotations

from django.db.models import Q

from notifications.models import CustomerDirectory, Notification


def plain_copies(customer: str, forgotten: int, orders: list[str], using: str) -> list[str]:
    """What of the notifications still holds the address the customer gave before position
    `forgotten`: their directory entry, and the recipient of each email owed for their orders
    (`orders`, and any email that names them as its customer)."""
    found = []
    directory = CustomerDirectory.objects.using(using).filter(customer_id=customer, position__lt=forgotten)
    if directory.exists():
        found.append("the customer directory still has their address")
    theirs = Q(order_id__in=orders) | Q(customer_id=customer)
    owed = Notification.objects.using(using).filter(theirs, position__lt=forgotten).exclude(recipient="")
    found += [
        f"the email owed for event {event_id} still names its recipient"
        for event_id in owed.order_by("position").values_list("event_id", flat=True)
    ]
    return found
