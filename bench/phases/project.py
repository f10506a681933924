"""`project` (full rebuild of every read model from position 0) and `memory` (the same over a
large synthetic log, reporting peak RSS), plus the synthetic log they can run on."""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import uuid4

from django.db import connections, transaction
from django.test.utils import override_settings
from tqdm import tqdm

from bench.phases.common import event_count, peak_rss_mb
from bench.workload import workload
from eventlog.buckets import bucket_of
from projector.rebuild import rebuild_together
from projector.registry import all_projections
from writeside.bus import handle

TEMPLATE_ORDERS = 100
_COLUMNS = "event_id, stream_id, stream_type, bucket, version, event_type, schema_version, data, metadata, recorded_at"


def project(*, show_progress: bool = True) -> dict[str, Any]:
    """Rebuild every rebuildable projection from position 0 in one pass; events/s over the log."""
    events = event_count()
    # A process manager (rebuildable = False) sends commands: replaying it would append
    # events to the log being measured, and "rebuild all" never includes it either.
    projections = all_projections()
    skipped = sorted(name for name, projection in projections.items() if not projection.rebuildable)
    rebuilt = [projection for name, projection in projections.items() if name not in skipped]
    with tqdm(total=events, desc="rebuild", unit="ev", disable=not show_progress, leave=False) as bar:

        def progress(position: int, head: int) -> None:
            bar.total = head
            bar.n = position
            bar.refresh()

        start = time.perf_counter()
        # The workload's emails are recorded as expired (same rows, same cost) rather than
        # owed, so a benchmark never queues thousands of emails to nobody.
        with override_settings(NOTIFICATION_MAX_AGE_SECONDS=0):
            rebuild_together(rebuilt, progress=progress)
        seconds = time.perf_counter() - start
    # The OrderSummary/OrderDetail projection alone: the figure to hold against a peer that
    # projects only OrderSummary.
    began = time.perf_counter()
    rebuild_together([projections["orders"]])
    orders_seconds = time.perf_counter() - began
    return {
        "events_per_s": round(events / seconds, 1) if seconds else 0.0,
        "events": events,
        "seconds": round(seconds, 3),
        "projections": sorted(projection.name for projection in rebuilt),
        "orders_projection_events_per_s": round(events / orders_seconds, 1) if orders_seconds else 0.0,
        "skipped": skipped,
        "peak_rss_mb": peak_rss_mb(),
    }


def synthesize(events: int, seed: int) -> int:
    """Grow the log to `events` events by copying the stored events of 100 real orders
    (made through the bus) under new order ids; returns how many were added.

    Fast (COPY) so the 1,000,000-event and 100,000-order checks do not need hours of commands.
    """
    have = event_count()
    if have >= events:
        return 0
    with override_settings(EVENT_SUBSCRIBERS=[]):
        for command in workload(TEMPLATE_ORDERS, seed + 7, offset=90_000_000):
            handle(command)
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT stream_id, {_COLUMNS} FROM eventlog_storedevent "
            "WHERE stream_id IN (SELECT stream_id FROM eventlog_storedevent ORDER BY position DESC LIMIT %s) "
            "ORDER BY position",
            [TEMPLATE_ORDERS * 4],
        )
        rows = cursor.fetchall()
    templates: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        templates.setdefault(row[0], []).append(row[1:])
    orders = list(templates.values())
    wanted = events - event_count()
    added = 0
    with transaction.atomic(), connection.cursor() as cursor, tqdm(total=wanted, desc="synthesize", unit="ev") as bar:
        copy_sql = f"COPY eventlog_storedevent ({_COLUMNS}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            while added < wanted:
                template = orders[added // 4 % len(orders)]
                # Random, not seeded: ids drawn from random.Random(seed) met the write phase's
                # order ids (order_specs draws from the same seed) and a second call's own.
                stream_id = str(uuid4())
                bucket = bucket_of(stream_id)
                for row in template[: wanted - added]:
                    _, _, stream_type, _, version, event_type, schema_version, data, metadata, recorded_at = row
                    data = _with_order_id(data, stream_id)
                    copy.write_row(
                        (
                            uuid4(),
                            stream_id,
                            stream_type,
                            bucket,
                            version,
                            event_type,
                            schema_version,
                            data,
                            metadata,
                            recorded_at,
                        )
                    )
                added += len(template[: wanted - added])
                if added % 10_000 < 4:
                    bar.n = added
                    bar.refresh()
    return added


def _with_order_id(data: Any, stream_id: str) -> str:
    """A copied event's data naming its new order (jsonb arrives as text or as a dict)."""
    payload = json.loads(data) if isinstance(data, str) else dict(data)
    if "order_id" in payload:
        payload["order_id"] = stream_id
    return json.dumps(payload)


def memory(events: int, seed: int) -> dict[str, Any]:
    """Rebuild every projection over a log of at least `events` events; peak RSS must stay low."""
    added = synthesize(events, seed)
    baseline = peak_rss_mb()
    result = project()
    return {**result, "synthesized": added, "rss_before_rebuild_mb": baseline}
