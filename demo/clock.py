"""A controlled clock for the event log's database, so a demo shop (and a simulation) can put
its events on days past while appending through the store the product runs.

The guarantee: inside `database_clock`, every event the store appends on this connection is
stamped with the simulated time, and the simulated time never goes back, so recorded_at
still grows with position; the append itself is the configured store's, gap-safe lock and
all (eventlog/postgres.py). PostgreSQL stamps each event with clock_timestamp() as it
appends it, so a function of that name is put ahead of pg_catalog's on this connection's
search path: it answers the instant last set plus the real time elapsed since. Other
connections (a worker projecting meanwhile) keep the real clock. On SQLite the portable
store stamps events with Django's clock, which the caller sets (`timezone.now`); nothing is
done to the database there. For demos and tests only: nothing live should ever be written
with a clock set back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connections

SCHEMA = "simulated_clock"


@dataclass(frozen=True)
class SimulatedClock:
    """Moves the event log's clock forward to a given instant."""

    using: str

    def set(self, at: datetime) -> None:
        """From now on, events are stamped `at` plus the real time elapsed since this call;
        an instant the clock has passed already leaves it running where it is."""
        if connections[self.using].vendor != "postgresql":
            return
        with connections[self.using].cursor() as cursor:
            cursor.execute(
                f"UPDATE {SCHEMA}.today SET at = %s, since = pg_catalog.clock_timestamp() "
                "WHERE %s > at + (pg_catalog.clock_timestamp() - since)",
                [at, at],
            )


@contextmanager
def database_clock(start: datetime) -> Iterator[SimulatedClock]:
    """The event log's clock answers simulated time, from `start`, until the block ends."""
    connection = connections[settings.EVENTLOG_DATABASE]
    if connection.vendor != "postgresql":
        yield SimulatedClock(connection.alias)
        return
    with connection.cursor() as cursor:
        # What a seed killed mid-way left behind would otherwise refuse every later seed.
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        cursor.execute(f"CREATE TABLE {SCHEMA}.today (at timestamptz NOT NULL, since timestamptz NOT NULL)")
        cursor.execute(f"INSERT INTO {SCHEMA}.today VALUES (%s, pg_catalog.clock_timestamp())", [start])
        cursor.execute(
            f"CREATE FUNCTION {SCHEMA}.clock_timestamp() RETURNS timestamptz LANGUAGE sql VOLATILE AS "
            f"$$ SELECT at + (pg_catalog.clock_timestamp() - since) FROM {SCHEMA}.today $$"
        )
        cursor.execute(f"SET search_path TO {SCHEMA}, pg_catalog, public")
    try:
        yield SimulatedClock(connection.alias)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET search_path")
            cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
