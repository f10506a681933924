"""A blue/green rebuild's indexing step (projector/shadow.py, step 2's end): the live tables'
other indexes built on the loaded shadow, and its statistics.

The guarantee: the shadow swapped in has every index the live table has (its primary and
unique keys were made before the load, the conflict targets of the upserts) and fresh
statistics, so live batches and readers are planned right from its first moment.

The work is a few statements per table (each index, then ANALYZE), each one backend's work.
Tables are shared out among INDEX_BUILDERS connections, a table's statements all on one (its
ANALYZE after its indexes, for their expressions' statistics), each connection in its own
transaction: on two cores the indexing takes about the time of its largest share instead of
the sum (docs/performance-log.md). Inside a caller's transaction (a test's), where the
shadow's tables are not committed for another connection to see, it runs on this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper

from projector.shadow import SHADOW, Shadow, commit_without_flush

# Connections building at once: each statement keeps one core busy, and this machine has two.
INDEX_BUILDERS = 2


@dataclass
class _Share:
    """The statements one connection runs, and their weight (the tables' sizes times their
    statements, a rough measure of the work)."""

    statements: list[str] = field(default_factory=list)
    weight: int = 0


def build_indexes(shadow: Shadow) -> None:
    """Create the live tables' other indexes on the loaded shadow, and its statistics: a
    table swapped in without them is planned blind until autovacuum gets to it, and live
    batches and readers run on it from the first moment."""
    shares = _shares(shadow)
    if shadow.connection.in_atomic_block or len(shares) < 2:
        _run(shadow.using, [statement for share in shares for statement in share.statements])
        return
    with ThreadPoolExecutor(len(shares), thread_name_prefix="rebuild-indexes") as builders:
        for done in [builders.submit(_run_elsewhere, shadow.using, share.statements) for share in shares]:
            done.result()  # a builder's error is the rebuild's (after the other has finished)


def _shares(shadow: Shadow) -> list[_Share]:
    """Each table's statements (its indexes as the live table has them, named on the shadow,
    then its ANALYZE), the tables shared out largest first to the lightest share."""
    quote = shadow.connection.ops.quote_name
    work: list[tuple[int, list[str]]] = []
    with transaction.atomic(using=shadow.using), shadow.connection.cursor() as cursor:
        # With only pg_catalog on the search_path, pg_get_indexdef names every table, type and
        # operator class with its schema: the statements mean the same on any connection.
        cursor.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        for table in shadow.tables:
            cursor.execute(
                "SELECT pg_get_indexdef(i.indexrelid), format(' ON %%I.%%I ', %s, %s) FROM pg_index i"
                " WHERE i.indrelid = format('%%I.%%I', %s, %s)::regclass"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                [shadow.live, table, shadow.live, table],
            )
            statements = [
                definition.replace(live_name, f" ON {SHADOW}.{quote(table)} ", 1)
                for definition, live_name in cursor.fetchall()
            ]
            statements.append(f"ANALYZE {SHADOW}.{quote(table)}{_analyzed_columns(cursor, shadow.live, table)}")
            cursor.execute("SELECT pg_relation_size(format('%%I.%%I', %s, %s)::regclass)", [SHADOW, table])
            work.append(((cursor.fetchone()[0] + 1) * len(statements), statements))
        cursor.execute("SELECT set_config('search_path', %s, true)", [shadow.search_path])
    shares = [_Share() for _ in range(min(INDEX_BUILDERS, len(work)))]
    for weight, statements in sorted(work, key=lambda item: -item[0]):
        lightest = min(shares, key=lambda share: share.weight)
        lightest.statements += statements
        lightest.weight += weight
    return shares


def _run(using: str, statements: Sequence[str]) -> None:
    """The statements in one transaction on this thread's connection to `using`."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        commit_without_flush(cursor)
        for statement in statements:
            cursor.execute(statement)


def _run_elsewhere(using: str, statements: Sequence[str]) -> None:
    """`_run` on a builder thread's own connection, closed when done."""
    try:
        _run(using, statements)
    finally:
        connections[using].close()


def _analyzed_columns(cursor: CursorWrapper, live: str, table: str) -> str:
    """The column list ANALYZE gets for `table`: all but its JSON columns when it has some and
    no index over an expression, else none (every column).

    A JSON column's statistics (each sampled document read whole) were half of the order
    detail's ANALYZE and a tenth of the `orders` projection's indexing at 2,000 orders
    (docs/performance-log.md), and no plan here rests on them: no JSON column is indexed, and
    the one query filtering by one (readmodels/projections/catalog_names.py) reads every row
    either way. A column list also skips the statistics of index expressions, so a table with
    one (the summaries' trigram index) is analyzed whole."""
    cursor.execute(
        "SELECT array_agg(quote_ident(a.attname) ORDER BY a.attnum) FILTER (WHERE a.atttypid NOT IN"
        " ('json'::regtype, 'jsonb'::regtype)), bool_or(a.atttypid IN ('json'::regtype, 'jsonb'::regtype))"
        " FROM pg_attribute AS a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        " AND NOT EXISTS (SELECT 1 FROM pg_index AS i WHERE i.indrelid = a.attrelid AND i.indexprs IS NOT NULL)",
        [f"{live}.{table}"],
    )
    columns, has_json = cursor.fetchone()
    return f" ({', '.join(columns)})" if has_json and columns else ""
