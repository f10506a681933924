"""Values of stored events read as stored (eventlog/stored_values.py): the customer id of each
order's OrderCreated, from the log and from an archived order's segment alike, the same as the
decoded event says; a personal field reads as null, never in the clear; a stream whose first
event is of another type, or with no event, is left out."""

from __future__ import annotations

from uuid import uuid4

import pytest
from django.db import connection

from eventlog.models import ArchivedStream
from eventlog.store import event_store
from eventlog.stored_values import first_event_values
from tests.support.carried_rows import ARCHIVED, EMAIL, archived_shop
from tests.support.read_side import ON_BOTH_DATABASES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cold_storage")]


@ON_BOTH_DATABASES
def test_the_first_events_values_are_read_as_stored_hot_and_archived(vendor: str) -> None:
    assert connection.vendor == vendor
    archived_shop()
    store = event_store()
    archived = list(ArchivedStream.objects.values_list("stream_id", flat=True))
    assert len(archived) == ARCHIVED
    hot = list(store.streams_with("OrderCreated", "customer_id", "c-backfill-hot"))
    streams = [*archived, *hot, str(uuid4())]
    customers = first_event_values(store, streams, "OrderCreated", "customer_id")
    decoded = {stream: event.event.customer_id for stream, event in store.first_events(streams).items()}
    assert customers == decoded
    assert set(customers) == {*archived, *hot}  # the stream without events is left out
    assert customers[hot[0]] == "c-backfill-hot"
    emails = first_event_values(store, streams, "OrderCreated", "customer_email")
    assert set(emails.values()) == {None}  # sealed: what is stored in its place
    assert {event.event.customer_email for event in store.first_events(streams).values()} == {EMAIL}
    assert first_event_values(store, streams, "OrderConfirmed", "customer_id") == {}
