"""One bounded batch of each store's expired rows: removed, or for emails blanked, and no other row.

Each function takes one batch (at most `batch` rows, the oldest first where it matters) in
one short statement of its own transaction, and returns how many rows it changed: the
caller repeats it until a batch comes back short. Rows are picked with FOR UPDATE SKIP
LOCKED and their condition is checked again on the row itself, so a row that a live
transaction holds (a retry reading its command record, a projection re-opening a dead
letter) is left for the next run, and a row that stopped matching meanwhile is never
touched. Running twice at once, or again after a crash, removes nothing more.

The event log is not here: nothing in this package reads or writes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from audit.models import CommandAudit
from eventlog.models import CommandRecord
from notifications.models import Notification
from projector.models import DeadLetter

# The database keeps every command record and audit row at least this long, whatever the
# settings say (eventlog/migrations/0005, audit/migrations/0003): a retry's least window.
FLOOR = timedelta(days=1)


def _skip_locked(using: str) -> str:
    return " FOR UPDATE SKIP LOCKED" if connections[using].features.has_select_for_update_skip_locked else ""


def _delete_batch(using: str, table: str, condition: str, params: list[Any], order: str, batch: int) -> int:
    """DELETE up to `batch` of `table`'s rows matching `condition`, checked again on each row."""
    sql = (
        f"DELETE FROM {table} WHERE {condition} AND id IN ("
        f"SELECT id FROM {table} WHERE {condition} ORDER BY {order} LIMIT %s{_skip_locked(using)})"
    )
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(sql, [*params, *params, batch])
        return int(cursor.rowcount)


def _through_function(using: str, function: str, cutoff: datetime, batch: int) -> int:
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [cutoff, batch])
        (removed,) = cursor.fetchone() or (0,)
        return int(removed)


def expire_command_records(using: str, cutoff: datetime, batch: int) -> int:
    """Remove up to `batch` command records recorded before `cutoff` (and a day ago)."""
    if connections[using].vendor == "postgresql":
        # The application role has no DELETE on the table: the function (SECURITY DEFINER)
        # is its one way to remove records, and only expired ones.
        return _through_function(using, "eventlog_expire_command_records", cutoff, batch)
    before = min(cutoff, timezone.now() - FLOOR)  # the real clock, whatever a caller's cutoff
    return _delete_batch(using, CommandRecord._meta.db_table, "recorded_at < %s", [before], "recorded_at", batch)


def prune_audit_rows(using: str, cutoff: datetime, batch: int) -> int:
    """Remove up to `batch` audit rows recorded before `cutoff` (and a day ago)."""
    if connections[using].vendor == "postgresql":
        return _through_function(using, "audit_prune_command_audit", cutoff, batch)
    before = min(cutoff, timezone.now() - FLOOR)  # the real clock, whatever a caller's cutoff
    return _delete_batch(using, CommandAudit._meta.db_table, "recorded_at < %s", [before], "recorded_at", batch)


def prune_resolved_dead_letters(using: str, cutoff: datetime, batch: int) -> int:
    """Remove up to `batch` dead letters resolved by a retry before `cutoff`.

    `last_failed_at` moves whenever a letter is saved, its resolution included, so it is when
    the letter was resolved. Skipped letters stay: a replay of their position honours them.
    """
    condition = "status = %s AND last_failed_at < %s"
    params: list[Any] = [DeadLetter.Status.RESOLVED.value, cutoff]
    return _delete_batch(using, DeadLetter._meta.db_table, condition, params, "id", batch)


def prune_notification_payloads(using: str, cutoff: datetime, batch: int) -> int:
    """Blank recipient, subject and error of up to `batch` finished emails of events before
    `cutoff`; the rows stay (the event id is what keeps an event from owing a second email)."""
    table = Notification._meta.db_table
    # The condition of the partial index notification_payload_idx, which the batch is read from.
    condition = "status IN (%s, %s) AND (recipient <> '' OR subject <> '' OR last_error <> '') AND occurred_at < %s"
    params: list[Any] = [Notification.Status.SENT.value, Notification.Status.FAILED.value, cutoff]
    sql = (
        f"UPDATE {table} SET recipient = '', subject = '', last_error = '' WHERE {condition} AND event_id IN ("
        f"SELECT event_id FROM {table} WHERE {condition} LIMIT %s{_skip_locked(using)})"
    )
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(sql, [*params, *params, batch])
        return int(cursor.rowcount)
