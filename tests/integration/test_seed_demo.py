"""The demo seeder drives real commands through the bus."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from eventlog.models import StoredEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_seed_demo_creates_orders_once_and_an_admin(settings: object) -> None:
    call_command("seed_demo", orders=12, seed=7, admin=True, if_empty=True, stdout=StringIO(), stderr=StringIO())
    created = StoredEvent.objects.filter(event_type="OrderCreated").count()
    total = StoredEvent.objects.count()
    assert created == 12
    assert total > 12
    assert {"OrderConfirmed", "OrderPaid", "OrderShipped"} <= set(
        StoredEvent.objects.values_list("event_type", flat=True)
    )
    assert get_user_model().objects.get(username="admin").is_superuser
    call_command("seed_demo", orders=12, if_empty=True, stdout=StringIO(), stderr=StringIO())
    assert StoredEvent.objects.count() == total
