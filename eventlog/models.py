"""Tables of the event store: the append-only log, snapshots, and command records."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Cast

# `metadata ->> 'correlation_id'`, the expression eventlog_correlation_idx indexes: a filter on
# it is answered from the index. Cast to text because KT keeps the JSON lookups, which on
# SQLite compare with JSON_EXTRACT(<value>, '$') and fail ("malformed JSON") on a bare UUID;
# on PostgreSQL the cast of text to text is dropped when the query is parsed, so the
# expression still matches the index.
CORRELATION = Cast(KT("metadata__correlation_id"), models.TextField())


class StoredEvent(models.Model):
    """One immutable fact. `position` is the global order subscribers checkpoint on."""

    position = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    stream_id = models.CharField(max_length=64)
    stream_type = models.CharField(max_length=64)
    # A stable hash of stream_id (0..255) so projections can split streams into partitions
    # that are worked on in parallel while each stream stays in one partition.
    bucket = models.SmallIntegerField()
    version = models.PositiveIntegerField()
    event_type = models.CharField(max_length=100)
    schema_version = models.PositiveSmallIntegerField(default=1)
    data = models.JSONField()
    metadata = models.JSONField(default=dict)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "version"], name="eventlog_stream_version_uniq"),
        ]
        indexes = [
            models.Index(fields=["event_type", "position"], name="eventlog_type_pos_idx"),
            models.Index(fields=["stream_type", "position"], name="eventlog_stype_pos_idx"),
            models.Index(KeyTextTransform("correlation_id", "metadata"), name="eventlog_correlation_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.event_type} {self.stream_id} v{self.version}"


class Snapshot(models.Model):
    """The latest saved state of a stream, so loading replays only the tail."""

    stream_id = models.CharField(max_length=64, unique=True)
    stream_type = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    state_version = models.PositiveSmallIntegerField(default=1)
    state = models.JSONField()
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stream_type} {self.stream_id} @v{self.version}"


class CommandRecord(models.Model):
    """A handled command and its result, written in the same transaction as its events and,
    like them, never changed (the database refuses it: eventlog/migrations/0003). It expires
    after IDEMPOTENCY_RETENTION_DAYS, never before a day (eventlog/migrations/0005)."""

    command_id = models.CharField(max_length=320, unique=True)
    command_type = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64)
    result = models.JSONField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["recorded_at"], name="eventlog_command_recorded_idx")]

    def __str__(self) -> str:
        return f"{self.command_type} {self.command_id}"


class SubjectKey(models.Model):
    """The key that seals one data subject's personal data (eventlog/personal.py).

    Deliberately NOT append-only: deleting the row is how the subject is forgotten. A
    subject has at most one key; one forgotten and back gets a new key under a new id.
    """

    subject = models.CharField(max_length=255, unique=True)
    key_id = models.UUIDField(unique=True)
    secret = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"key {self.key_id} of {self.subject}"


class ArchivedStream(models.Model):
    """The manifest of cold storage: one row per stream whose events were written to a segment.

    `verified`: the segment was written and read back equal to the hot rows, which are still
    in the log; only then may the archiver remove them (the database refuses the DELETE of an
    event no verified row covers: eventlog/migrations/0005). `archived`: the rows are gone from
    the log, the segment is the stream's only copy, and the database refuses any new event of
    the stream until it is restored.
    """

    class Status(models.TextChoices):
        VERIFIED = "verified", "Segment verified, events still in the log"
        ARCHIVED = "archived", "Events only in the segment"

    stream_id = models.CharField(max_length=64, unique=True)
    stream_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    segment = models.CharField(max_length=255)
    format_version = models.PositiveSmallIntegerField()
    checksum = models.CharField(max_length=64)  # sha256 of the stored (compressed) segment
    event_count = models.PositiveIntegerField()
    last_version = models.PositiveIntegerField()
    first_position = models.BigIntegerField()
    last_position = models.BigIntegerField()
    verified_at = models.DateTimeField()
    archived_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["first_position"], name="archived_first_position_idx"),
            models.Index(fields=["last_position"], name="archived_last_position_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.stream_type} {self.stream_id} ({self.status})"
