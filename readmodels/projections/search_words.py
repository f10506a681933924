"""The words each order is found by (SearchWord, SearchPosting), written by the `orders`
projection in the transaction that writes the order's rows, so a search's postings never
disagree with the summaries it pages.

The guarantee: on PostgreSQL, SearchPosting holds exactly the words of each order's summary
search text (readmodels/search.py `words_of`: its own number by its digits, which
readmodels/order_numbers.py explains), each with the order's time, and SearchWord
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

from eventlog.pg_statements import pg_cursor
from projector.projection import loading
from readmodels.models import OrderSummary, SearchPosting, SearchWord
from readmodels.order_numbers import FOLDED_PREFIX
from readmodels.search import words_of

# pg_advisory_xact_lock key of the vocabulary; distinct from the projector's and the
# event log's keys (projector/shadow.py REBUILD_LOCK_KEY, the catalog lock, the append lock).
VOCABULARY_LOCK_KEY = 0x5345_4152_4348  # "SEARCH"


def write_words(using: str, summaries: Sequence[Mapping[str, Any]], texts_before: Mapping[str, str]) -> None:
    """Bring the postings of `summaries` (summary rows: order_id, created_at, search_text)
    from the words of `texts_before` (the stored search text by order id as text; an order
    missing there had none) to the words of their search text now."""
    connection = connections[using]
    if connection.vendor != "postgresql" or loading.get():
        return  # a rebuild's load: `fill_words` writes them all once it is done
    # Per order whose words change: the words added and removed, each set joined by spaces
    # (a word holds none), so a batch sends a value per order, not a row per word.
    changed: list[tuple[str, Any, str, str]] = []
    for summary in summaries:
        order_id = str(summary["order_id"])
        before, after = words_of(texts_before.get(order_id, "")), words_of(summary["search_text"])
        if before != after:
            changed.append((order_id, summary["created_at"], " ".join(after - before), " ".join(before - after)))
    if not changed:
        return
    ids, times, added, removed = (list(column) for column in zip(*changed, strict=True))
    removes = any(removed)
    # Server-side binding: the arrays go as parameters psycopg dumps in C, not as literals
    # composed in Python (a batch's postings cost a fifth less, docs/performance-log.md).
    with pg_cursor(using) as cursor:
        lock = "pg_advisory_xact_lock" if removes else "pg_advisory_xact_lock_shared"
        cursor.execute(f"SELECT {lock}(%s)", [VOCABULARY_LOCK_KEY])
        if removes:
            cursor.execute(_REMOVE_SQL, [ids, removed])
        if any(added):
            cursor.execute(_ADD_SQL, [ids, times, added])
        if removes:
            cursor.execute(_FORGET_UNHELD_SQL, [removed])


def fill_words(using: str) -> None:
    """Every order's words, from the summaries' search text, into empty tables: a rebuild's
    load leaves them to this (one statement each instead of one per batch, 15-20% of the
    `orders` projection's replay). The text holds its words separated by single spaces
    (readmodels/search.py `search_text`), so splitting it at spaces, the first word (the
    order's number) by its digits, gives `words_of`."""
    if connections[using].vendor != "postgresql":
        return
    with pg_cursor(using) as cursor:
        cursor.execute(_FILL_POSTINGS_SQL)
        cursor.execute(_FILL_WORDS_SQL)


_WORDS, _POSTINGS = SearchWord._meta.db_table, SearchPosting._meta.db_table
# Each statement splits every order's joined words in the database (`split`).
_REMOVE_SQL = (
    f"DELETE FROM {_POSTINGS} AS posting USING unnest(%s::uuid[], %s::text[]) AS changed (order_id, words), "
    "unnest(string_to_array(changed.words, ' ')) AS split (word) "
    "WHERE posting.order_id = changed.order_id AND posting.word = split.word"
)
# The new words enter the vocabulary in sorted order (see the module's docstring), in the
# statement that adds their postings.
_ADD_SQL = (
    "WITH added AS MATERIALIZED (SELECT changed.order_id, split.word, changed.created_at "
    "FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[]) AS changed (order_id, created_at, words), "
    "unnest(string_to_array(changed.words, ' ')) AS split (word)), "
    f"vocabulary AS (INSERT INTO {_WORDS} (word) SELECT DISTINCT word FROM added ORDER BY word ON CONFLICT DO NOTHING) "
    f"INSERT INTO {_POSTINGS} (order_id, word, created_at) SELECT order_id, word, created_at FROM added "
    # A posting there already (an order's rows lost and written again, by a retry or a
    # replay, while its words stayed) is the same row: kept, as the rows' upserts keep theirs.
    "ON CONFLICT DO NOTHING"
)
_FORGET_UNHELD_SQL = (
    f"DELETE FROM {_WORDS} AS vocabulary WHERE vocabulary.word IN ("
    "SELECT split.word FROM unnest(%s::text[]) AS changed (words), "
    "unnest(string_to_array(changed.words, ' ')) AS split (word)"
    f") AND NOT EXISTS (SELECT 1 FROM {_POSTINGS} AS posting WHERE posting.word = vocabulary.word)"
)
# Each order's words made distinct on their own (a text may repeat a word: a name that is also
# the city), not all postings at once: one sort of the whole table was 40% more at 100,000 orders.
# The text's first word, the order's number, by its digits alone, as `words_of` gives it.
_FILL_POSTINGS_SQL = (
    f"INSERT INTO {_POSTINGS} (order_id, word, created_at) SELECT summary.order_id, split.word, "
    f"summary.created_at FROM {OrderSummary._meta.db_table} AS summary, LATERAL (SELECT DISTINCT "
    f"CASE WHEN token.place = 1 AND token.word ~ '^{FOLDED_PREFIX}[0-9]+$' "
    f"THEN substr(token.word, {len(FOLDED_PREFIX) + 1}) ELSE token.word END "
    "FROM unnest(string_to_array(summary.search_text, ' ')) WITH ORDINALITY AS token (word, place) "
    "WHERE token.word <> '') AS split (word)"
)
_FILL_WORDS_SQL = f"INSERT INTO {_WORDS} (word) SELECT DISTINCT word FROM {_POSTINGS} ORDER BY word"
