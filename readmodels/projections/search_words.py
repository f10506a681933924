"""The words each order is found by (SearchWord, SearchPosting), written by the `orders`
projection in the transaction that writes the order's rows, so a search's postings never
disagree with the summaries it pages.

The guarantee: on PostgreSQL, SearchPosting holds exactly the words of each order's summary
search text (readmodels/search.py `words_of`), each with the order's time, and SearchWord
holds exactly the words some posting holds. Only a row whose words change writes here: a new
order, an address given or changed, a forgetting's refold. A status change leaves the words
as they were, so most of the projection's batches pay one comparison of two texts per order.

A word that loses its last posting (an address changed, a customer forgotten) is deleted, so
a forgotten e-mail or name does not outlive the rows that held it. That deletion races a
batch of another partition adding a posting of the same word (two customers of one name):
the deleting statement would not see the uncommitted posting, and the word would be gone
while a posting names it, its order no longer found. So a batch that adds postings holds the
vocabulary lock (transaction-level, advisory) shared, and one that may delete words holds it
exclusive, taken before it writes anything here: it deletes only words no committed posting
holds, and a batch adding one after it finds the word gone and inserts it again. Words are
inserted in sorted order, so two batches adding the same new words never wait on each other
in opposite orders.

SQLite's search scans the summaries (and its writers take turns anyway): nothing is written
there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections

from projector.bulk import copy_rows
from readmodels.models import SearchPosting, SearchWord
from readmodels.search import words_of

# pg_advisory_xact_lock key of the vocabulary; distinct from the projector's and the
# event log's keys (projector/shadow.py REBUILD_LOCK_KEY, the catalog lock, the append lock).
VOCABULARY_LOCK_KEY = 0x5345_4152_4348  # "SEARCH"


def write_words(using: str, summaries: Sequence[Mapping[str, Any]], texts_before: Mapping[str, str]) -> None:
    """Bring the postings of `summaries` (summary rows: order_id, created_at, search_text)
    from the words of `texts_before` (the stored search text by order id as text; an order
    missing there had none) to the words of their search text now."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    added: list[dict[str, Any]] = []
    removed: list[tuple[str, str]] = []
    for summary in summaries:
        order_id = str(summary["order_id"])
        before, after = words_of(texts_before.get(order_id, "")), words_of(summary["search_text"])
        if before == after:
            continue
        added.extend(
            {"order_id": summary["order_id"], "word": word, "created_at": summary["created_at"]}
            for word in sorted(after - before)
        )
        removed.extend((order_id, word) for word in sorted(before - after))
    if not added and not removed:
        return
    word_table, posting_table = SearchWord._meta.db_table, SearchPosting._meta.db_table
    with connection.cursor() as cursor:
        lock = "pg_advisory_xact_lock" if removed else "pg_advisory_xact_lock_shared"
        cursor.execute(f"SELECT {lock}(%s)", [VOCABULARY_LOCK_KEY])
        if removed:
            cursor.execute(
                f"DELETE FROM {posting_table} AS posting "
                "USING unnest(%s::uuid[], %s::text[]) AS gone (order_id, word) "
                "WHERE posting.order_id = gone.order_id AND posting.word = gone.word",
                [[order_id for order_id, _ in removed], [word for _, word in removed]],
            )
        if added:
            cursor.execute(
                f"INSERT INTO {word_table} (word) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                [sorted({posting["word"] for posting in added})],
            )
            copy_rows(using, SearchPosting, added)
        if removed:
            cursor.execute(
                f"DELETE FROM {word_table} AS vocabulary WHERE vocabulary.word = ANY(%s) "
                f"AND NOT EXISTS (SELECT 1 FROM {posting_table} AS posting WHERE posting.word = vocabulary.word)",
                [sorted({word for _, word in removed})],
            )
