"""The whole log's replay stays proportional to the events it returns (eventlog/history.py):
every archived segment is opened once, the manifest is listed in pages, and each archived event
is decoded once, however many windows the replay reads and however sparse the hot log is; a
stream restored while a replay reads is still replayed once.

Counted, not timed: a merge that re-scanned the open segments or re-listed the manifest per
window (the cause of a full rebuild slowing as the archive grew) makes these counts grow with
segments times windows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.utils import timezone

from archive.procedure import archive_due
from archive.restoring import restore_stream
from eventlog import cold, history
from eventlog.history import whole_log
from eventlog.models import ArchivedStream
from eventlog.store import EventStore, event_store
from tests.factories import (
    CreateOrderFactory,
)
from tests.support.read_side import read_models
from tests.support.workload import delivered
from writeside.bus import handle

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]
ARCHIVED_ORDERS = 9
LATER = timedelta(days=10_000)


def delivered_order(customer_id: str) -> UUID:
    create = CreateOrderFactory(customer_id=customer_id)
    return delivered(create)


def a_long_archived_past() -> int:
    """Archived orders first, then a few open ones: a hot log whose first window reaches over
    the whole archive. Returns the number of segments."""
    for n in range(ARCHIVED_ORDERS):
        delivered_order(f"c-whole-{n}")
    archived = archive_due(now=timezone.now() + LATER).archived
    assert len(archived) == ARCHIVED_ORDERS
    for n in range(4):
        handle(CreateOrderFactory(customer_id=f"c-open-{n}"))
    return len(archived)


def counting(calls: Counter[str], name: str, function: Callable[..., Any], rows: bool = False) -> Callable[..., Any]:
    """`function` itself, counting its calls (or, `rows`, the rows it is given)."""

    def counted(*args: Any, **kwargs: Any) -> Any:
        if rows:
            batch = list(args[-1])
            calls[name] += len(batch)
            return function(*args[:-1], batch, **kwargs)
        calls[name] += 1
        return function(*args, **kwargs)

    return counted


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Segments opened, manifest pages listed and rows decoded, by whichever thread reads."""
    counts: Counter[str] = Counter()
    monkeypatch.setattr(cold, "read", counting(counts, "segments opened", cold.read))
    listed = history.ArchivedEvents._list_page
    monkeypatch.setattr(history.ArchivedEvents, "_list_page", counting(counts, "manifest pages", listed))
    decode = EventStore._recorded_all
    monkeypatch.setattr(EventStore, "_recorded_all", counting(counts, "rows decoded", decode, rows=True))
    return counts


def test_a_rebuild_in_small_batches_opens_each_segment_once_and_decodes_each_event_once(
    settings: Any, calls: Counter[str]
) -> None:
    segments = a_long_archived_past()
    events = whole_log(event_store()).head_position()
    before = read_models()
    settings.REBUILD_BATCH_SIZE = 3  # windows of the hot log reaching over every segment
    calls.clear()
    call_command("rebuild_projections", verbosity=0)
    assert read_models() == before
    assert calls["segments opened"] == segments
    assert calls["manifest pages"] <= 1 + segments // history.MANIFEST_PAGE
    # Each window decodes at most its own batch of log rows and the archived events it returns:
    # in all at most twice the log (a re-scan per window would be segments times windows).
    assert calls["rows decoded"] <= 2 * events + settings.REBUILD_BATCH_SIZE


def test_a_stream_restored_while_a_replay_reads_is_replayed_once(settings: Any) -> None:
    a_long_archived_past()
    store = whole_log(event_store())
    head = store.head_position()
    manifest = list(ArchivedStream.objects.order_by("first_position").values_list("stream_id", "last_position"))
    (opened, opened_last), (unopened, _) = manifest[0], manifest[-1]
    seen = [event.position for event in store.read_all(0, limit=3, to_position=head)]
    assert seen[-1] < opened_last  # the first segment is open, the last not reached yet
    restore_stream(opened)
    restore_stream(unopened)
    cold._cache.clear()
    while seen[-1] < head and (batch := store.read_all(seen[-1], limit=3, to_position=head)):
        seen.extend(event.position for event in batch)
    assert seen == sorted(set(seen))  # in position order, each once
    archived = [
        event["position"]
        for name, checksum in ArchivedStream.objects.values_list("segment", "checksum")
        for event in cold.read(name, checksum).events
    ]
    hot = [event.position for event in event_store().read_all(0, limit=10_000)]
    assert seen == sorted(hot + archived)  # every event of the log, hot and cold
