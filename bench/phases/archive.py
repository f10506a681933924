"""`archive`: a shop's long history on a controlled clock, archived as it goes.

Each simulated day adds `per_day` orders to the log (copies of real orders made through the
bus, placed, paid, shipped and delivered; a tenth left open), with that day's times; the
projections are taken as keeping up (their checkpoints follow the head: this phase measures
the archive, not projection). Every `every` days the archiver runs with the clock at that
day, moving orders closed longer than `after` days to cold storage (a throwaway directory).

Reported: the log's rows and table+index size at the end next to the history's size (hot
bounded by the recent orders, not by history), archive throughput (events/s), an archived
order's history and as-of read from its segment (p50/p99, first read of the segment and
cached), a rebuild of every rebuildable read model from the whole history by each path (the
full replay of segments and log in position order; the carried rows restored and the hot log
replayed, `from_archive_rows`), whether the two left the same tables, and peak RSS.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.db import connections, models, transaction
from django.test.utils import override_settings

from archive.procedure import archive_due
from bench.phases.common import event_count, peak_rss_mb
from bench.phases.project import _COLUMNS, _with_order_id
from eventlog import cold
from eventlog.buckets import bucket_of
from eventlog.models import ArchivedStream
from orders.commands import ConfirmOrder, CreateOrder, DeliverOrder, LineItem, PayOrder, ShipOrder
from projector.loop import all_partitions, read_database
from projector.models import ProjectionCheckpoint
from projector.rebuild import rebuild_together
from projector.registry import all_projections
from readmodels.models import OrderStatusCount
from readmodels.selectors.history import order_as_of, order_history
from writeside.bus import handle

TEMPLATES = 20
START = datetime(2024, 1, 1, tzinfo=UTC)


def _templates(seed: int) -> tuple[list[list[tuple[Any, ...]]], list[list[tuple[Any, ...]]]]:
    """Stored rows of delivered orders and of orders left placed, made through the bus."""
    rng = random.Random(seed)
    delivered, placed = [], []
    with override_settings(EVENT_SUBSCRIBERS=[]):
        for n in range(TEMPLATES):
            items = tuple(
                LineItem(sku=f"SKU-{rng.randrange(500)}", quantity=rng.randint(1, 3), unit_price=Decimal("9.90"))
                for _ in range(rng.randint(1, 3))
            )
            create = CreateOrder(order_id=uuid4(), customer_id=f"c-{n}", currency="EUR", items=items)
            handle(create)
            placed.append(create.order_id)
            if n % 2:
                continue
            total = sum((item.unit_price * item.quantity for item in items), Decimal("0.00"))
            handle(ConfirmOrder(order_id=create.order_id))
            handle(PayOrder(order_id=create.order_id, payment_id=f"p-{n}", amount=total))
            handle(ShipOrder(order_id=create.order_id, tracking_number=f"T-{n}", carrier="DHL"))
            handle(DeliverOrder(order_id=create.order_id))
            delivered.append(placed.pop())
    return [_rows(order_id) for order_id in delivered], [_rows(order_id) for order_id in placed]


def _rows(order_id: UUID) -> list[tuple[Any, ...]]:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"SELECT {_COLUMNS} FROM eventlog_storedevent WHERE stream_id = %s ORDER BY version", [str(order_id)]
        )
        return list(cursor.fetchall())


def _add_day(day: datetime, per_day: int, delivered: list[list[Any]], placed: list[list[Any]], rng: Any) -> int:
    """COPY one day's orders into the log, with that day's times; returns the events added."""
    added = 0
    with (
        transaction.atomic(),
        connections["default"].cursor() as cursor,
        cursor.cursor.copy(f"COPY eventlog_storedevent ({_COLUMNS}) FROM STDIN") as copy,
    ):
        for n in range(per_day):
            template = rng.choice(placed if n % 10 == 0 else delivered)
            stream_id = str(uuid4())
            at = day + timedelta(seconds=86_000 * n / per_day)
            for offset, row in enumerate(template):
                _, _, stream_type, _, version, event_type, schema_version, data, metadata, _ = row
                copy.write_row(
                    (
                        uuid4(),
                        stream_id,
                        stream_type,
                        bucket_of(stream_id),
                        version,
                        event_type,
                        schema_version,
                        _with_order_id(data, stream_id),
                        metadata,
                        at + timedelta(seconds=offset),
                    )
                )
                added += 1
    return added


def _projections_keep_up() -> None:
    """Every checkpoint at the head: a live system whose projections keep up."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(position), 0) FROM eventlog_storedevent")
        head = int(cursor.fetchone()[0])
    using = read_database()
    for name in all_projections():
        for partition in all_partitions():
            ProjectionCheckpoint.objects.using(using).update_or_create(
                projection=name, partition=partition, defaults={"position": head}
            )


def _vacuum() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("VACUUM eventlog_storedevent")


def _log_size() -> tuple[int, int]:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*), pg_total_relation_size('eventlog_storedevent') FROM eventlog_storedevent")
        rows, size = cursor.fetchone()
    return int(rows), int(size)


def _digest(projections: list[Any]) -> dict[str, str]:
    """Each rebuilt table's rows (surrogate ids and zero status counts left out) as one md5,
    to compare two rebuilds."""
    digests = {}
    with connections[read_database()].cursor() as cursor:
        for table in sorted({table for projection in projections for table in projection.tables}, key=str):
            columns = ", ".join(
                field.column for field in table._meta.concrete_fields if not isinstance(field, models.AutoField)
            )
            # A status count that dropped back to zero leaves a zero row, or none: it depends on
            # where a replay's batches cut (a status passed within one batch is never written),
            # and every answer reads zero either way; the tests compare them so too.
            nonzero = " WHERE orders <> 0" if table is OrderStatusCount else ""
            cursor.execute(
                f"SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) "
                f"FROM (SELECT {columns} FROM {table._meta.db_table}{nonzero}) r"
            )
            digests[table._meta.db_table] = str(cursor.fetchone()[0])
    return digests


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def archive(days: int, per_day: int, every: int, after: int, seed: int) -> dict[str, Any]:
    """Simulate `days` days of `per_day` orders, archiving every `every` days what closed more
    than `after` days before; the figures described in the module docstring."""
    rng = random.Random(seed)
    location = tempfile.mkdtemp(prefix="bench-archive-")
    storage = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": location}}
    try:
        with override_settings(STORAGES={**settings.STORAGES, "archive": storage}, ARCHIVE_AFTER_DAYS=after):
            delivered, placed = _templates(seed)
            total = event_count()
            archived_events, archive_seconds, runs = 0, 0.0, []
            for day_number in range(days):
                day = START + timedelta(days=day_number)
                total += _add_day(day, per_day, delivered, placed, rng)
                if (day_number + 1) % every == 0:
                    _projections_keep_up()
                    began = time.perf_counter()
                    outcome = archive_due(now=day + timedelta(days=1))
                    seconds = time.perf_counter() - began
                    archived_events += outcome.events
                    archive_seconds += seconds
                    _vacuum()  # what autovacuum does after the deletes: the space is reused
                    rows, size = _log_size()
                    runs.append(
                        {
                            "day": day_number + 1,
                            "streams": len(outcome.archived),
                            "events": outcome.events,
                            "seconds": round(seconds, 1),
                            "hot_rows": rows,
                            "hot_mb": round(size / 2**20, 1),
                        }
                    )
            _projections_keep_up()
            rows, size = _log_size()
            sample = list(
                ArchivedStream.objects.filter(status=ArchivedStream.Status.ARCHIVED)
                .order_by("?")
                .values_list("stream_id", flat=True)[:300]
            )
            first_read, cached_read, as_of_read = [], [], []
            for stream_id in sample:
                cold._cache.clear()
                began = time.perf_counter()
                order_history(UUID(stream_id), limit=100)
                first_read.append(time.perf_counter() - began)
                began = time.perf_counter()
                order_history(UUID(stream_id), limit=100)
                cached_read.append(time.perf_counter() - began)
                began = time.perf_counter()
                order_as_of(UUID(stream_id), START + timedelta(days=days))
                as_of_read.append(time.perf_counter() - began)
            rebuilt = [projection for projection in all_projections().values() if projection.rebuildable]
            rebuild_seconds, fast_seconds = 0.0, 0.0
            steps: list[str] = []
            with override_settings(NOTIFICATION_MAX_AGE_SECONDS=0):
                began = time.perf_counter()
                rebuild_together(rebuilt)
                rebuild_seconds = time.perf_counter() - began
                full_tables = _digest(rebuilt)
                began = time.perf_counter()
                rebuild_together(rebuilt, from_archive_rows=True, phase=steps.append)
                fast_seconds = time.perf_counter() - began
                fast_tables = _digest(rebuilt)
            segments_bytes = sum(path.stat().st_size for path in Path(location).rglob("*.seg.gz"))
            carried_bytes = sum(path.stat().st_size for path in Path(location).rglob("*.rows.gz"))
    finally:
        shutil.rmtree(location, ignore_errors=True)
    return {
        "days": days,
        "orders_per_day": per_day,
        "archive_every_days": every,
        "archive_after_days": after,
        "events_in_history": total,
        "hot_rows_end": rows,
        "hot_table_index_mb_end": round(size / 2**20, 1),
        "archived_events": archived_events,
        "segments_mb": round(segments_bytes / 2**20, 1),
        "archive_events_per_s": round(archived_events / archive_seconds) if archive_seconds else None,
        "runs": runs,
        "history_first_read": _percentiles(first_read) if first_read else None,
        "history_cached": _percentiles(cached_read) if cached_read else None,
        "as_of": _percentiles(as_of_read) if as_of_read else None,
        "carried_rows_mb": round(carried_bytes / 2**20, 1),
        "rebuild_whole_history_s": round(rebuild_seconds, 1),
        "rebuild_events_per_s": round(total / rebuild_seconds) if rebuild_seconds else None,
        "rebuild_from_archive_rows_s": round(fast_seconds, 1),
        "fast_rebuild_replayed_in_full": [step for step in steps if "in full" in step],
        "fast_rebuild_tables_differing": sorted(name for name in full_tables if fast_tables[name] != full_tables[name]),
        "peak_rss_mb": peak_rss_mb(),
    }
