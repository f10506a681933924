"""The tables the database keeps append-only, and the one way to empty a throwaway database.

Migrations eventlog/0002 and 0003 make the database itself refuse UPDATE, DELETE and
TRUNCATE of stored events and command records, whoever sends them: `manage.py flush`
included (docs/architecture.md, "Append-only"). Emptying them is only ever right for a
database that is thrown away: the test suite's flush between transactional tests, and a
benchmark's reset of its own database. `maintenance_window` allows it for one transaction,
and only to a role that could remove the triggers anyway, so it weakens nothing:

* PostgreSQL: `SET LOCAL session_replication_role = replica` (superusers only) makes this
  transaction skip ordinary triggers; the setting ends with the transaction. The app's own
  role, as docs/architecture.md sets it up, may neither do this nor drop a trigger.
* SQLite: the triggers are dropped and created again from their stored SQL inside the same
  transaction (SQLite DDL is transactional), so no other connection ever sees the tables
  unguarded, and a failure restores them with the rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction

APPEND_ONLY_TABLES = ("eventlog_storedevent", "eventlog_commandrecord")


@contextmanager
def maintenance_window(using: str = "default") -> Iterator[None]:
    """One transaction on `using` in which the append-only tables may be emptied."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            yield
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        elif connection.vendor == "sqlite":
            placeholders = ", ".join(["%s"] * len(APPEND_ONLY_TABLES))
            cursor.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({placeholders})",
                APPEND_ONLY_TABLES,
            )
            triggers = cursor.fetchall()
            for name, _sql in triggers:
                cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
            yield
            for _name, sql in triggers:
                cursor.execute(sql)
        else:
            yield
