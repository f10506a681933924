"""The subject-key table as a KeySource: keys fetched per batch, created with one statement.

Guarantees: on PostgreSQL the look-up of a subject's key and the creation of a missing one
are one statement. The key is read without a lock (a row lock would write the key's row and
WAL on every command): a command that read it just before a concurrent `forget` deleted it
commits data sealed under a key that no longer exists, which reads as erased, as the
forgetting asked; one that starts after the forget committed gets a new key.

A snapshot is sealed under no key created after its data was loaded (`key_of_loaded`): the
store notes the keys each stream was loaded with (`loaded_with`), and a key the loaded data
was not read under is refused when the loaded data was read under some key. Key ids are
never reused, so the check needs no lock: if the forgetting commits before the snapshot's
look-up, the look-up finds no key (null form) or a newer one (refused); if after, the
snapshot is sealed under the loaded key, which the forgetting then deletes. Either way
nothing loaded before the forgetting stays readable, whatever the interleaving.

Unsealing fetches every key a batch needs in one query. Keys are cached only by one
SubjectKeys instance, which lives as long as its event store (a unit of work's): never
across transactions, so a deleted key is not used again from a cache.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from uuid import uuid4

from django.db import connections

from eventlog.models import SubjectKey
from eventlog.personal import KeyReplaced, new_secret
from eventlog.personal import SubjectKey as Key

_TABLE = SubjectKey._meta.db_table
# The existing key, or a new one inserted when there is none; the INSERT only
# runs when the SELECT found nothing. A concurrent creator makes it return no row (ON CONFLICT
# DO NOTHING): the caller then reads the winner's key.
_GET_OR_CREATE_SQL = (
    f"WITH existing AS (SELECT key_id, secret FROM {_TABLE} WHERE subject = %s), "
    f"created AS (INSERT INTO {_TABLE} (subject, key_id, secret, created_at) "
    "SELECT %s, %s, %s, now() WHERE NOT EXISTS (SELECT 1 FROM existing) "
    "ON CONFLICT (subject) DO NOTHING RETURNING key_id, secret) "
    "SELECT key_id, secret FROM existing UNION ALL SELECT key_id, secret FROM created"
)


class SubjectKeys:
    """Keys of data subjects on one database (the event log's)."""

    def __init__(self, using: str) -> None:
        self.using = using
        self._current: dict[str, Key] = {}
        # The ids of the keys that opened what a stream load of this unit of work read.
        self._loaded: set[str] = set()

    def key_for(self, subject: str) -> Key:
        """The subject's key, created if it has none (see the module docstring)."""
        key = self._current.get(subject)
        if key is None:
            key = self._current[subject] = self._get_or_create(subject)
        return key

    def loaded_with(self, key_ids: Iterable[str]) -> None:
        """Note the keys that opened a stream just loaded (see `key_of_loaded`)."""
        self._loaded.update(key_ids)

    def key_of_loaded(self, subject: str) -> Key | None:
        """See KeySource.key_of_loaded: the subject's key if the data was loaded under it (or
        read under no key at all: then what it holds came with this unit of work's commands,
        sealed under the key `key_for` gave); None if they have none; KeyReplaced else."""
        key = self._current.get(subject)
        if key is None:
            row = SubjectKey.objects.using(self.using).filter(subject=subject).values_list("key_id", "secret").first()
            if row is None:
                return None
            key = Key(key_id=str(row[0]), secret=bytes(row[1]))
        if self._loaded and key.key_id not in self._loaded:
            raise KeyReplaced(subject)
        return key

    def _get_or_create(self, subject: str) -> Key:
        connection = connections[self.using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_GET_OR_CREATE_SQL, [subject, subject, uuid4(), new_secret()])
                row = cursor.fetchone()
                if row is None:  # created by a concurrent transaction since: read it
                    cursor.execute(f"SELECT key_id, secret FROM {_TABLE} WHERE subject = %s", [subject])
                    row = cursor.fetchone()
            if row is None:
                raise LookupError(f"the key of {subject!r} vanished while it was created")
            return Key(key_id=str(row[0]), secret=bytes(row[1]))
        stored, _ = SubjectKey.objects.using(self.using).get_or_create(
            subject=subject, defaults={"key_id": uuid4(), "secret": new_secret()}
        )
        return Key(key_id=str(stored.key_id), secret=bytes(stored.secret))

    def secrets(self, key_ids: Collection[str]) -> dict[str, bytes]:
        """The secrets of those keys that still exist, in one query."""
        rows = SubjectKey.objects.using(self.using).filter(key_id__in=list(key_ids)).values_list("key_id", "secret")
        return {str(key_id): bytes(secret) for key_id, secret in rows}

    def forget(self, subject: str) -> bool:
        """Delete the subject's key in the caller's transaction; True if it had one."""
        self._current.pop(subject, None)
        deleted, _ = SubjectKey.objects.using(self.using).filter(subject=subject).delete()
        return deleted > 0
