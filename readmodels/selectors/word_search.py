"""A one-word search (`?q=`) through the vocabulary (readmodels/projections/search_words.py)
instead of the summaries: the same orders, count and order as the summaries' scan
(selectors/order_search.py), found without reading a summary row (but those an order
number's range names, through the index on the number).

Why: the summaries' trigram index only narrows the candidates; each is then read from the
table and rechecked, and a word of the most common kind, one a thousand orders share (a
customer's id, a SKU, a city), costs a thousand table rows spread over most of the table to
count. Here the typed text is looked up in the vocabulary (a small table: a word a thousand
orders share is one row), and each word found names its orders, newest first, in one range
of an index that holds them (no table read): counting them is reading that many index
entries.

Order numbers are not in the vocabulary as they are (their `ord-` would be in every trigram
look-up of a part holding it, and a part such as `ord-02` is part of tens of thousands of
them): the vocabulary has each number's digits, and a part holding the dash or the letters
finds its numbers as one range of the order list's number index
(readmodels/order_numbers.py), read beside the words' postings.

When it answers: one word of at least three characters typed, no other filter, the list's
default order, on PostgreSQL (SQLite writes no postings). Otherwise, or when the word is part
of more than MAX_WORDS words of the vocabulary (a part of the digits of many order numbers:
the summaries' index answers that at once, the vocabulary would take as many index
look-ups), or when MAX_POSTINGS postings were read and still name at most SEARCH_COUNT_LIMIT
orders (orders holding many of the matched words), it answers None and the summaries' scan
decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from django.db import connections

from readmodels.models import OrderSummary, SearchPosting, SearchWord
from readmodels.order_numbers import numbers_holding
from readmodels.search import SEARCH_COUNT_LIMIT, joined, joined_sql

# Postings a page past the limit may read (its words times its reach), beyond which the
# summaries' newest-first walk is used (selectors/order_search.py walk_sql).
PAGE_BUDGET: Final = 20_000
# Characters a typed word needs for the vocabulary's trigram index to narrow it.
TRIGRAM: Final = 3
# The list's order the postings give: newest first, then by order id.
NEWEST_FIRST: Final = ("-created_at",)
# Words of the vocabulary one typed word may be part of for the postings to be read: each is
# one index look-up, and past a few hundred the summaries' trigram index is faster.
MAX_WORDS: Final = 256
# Postings read to count a search: an order is counted once however many of the matched words
# it holds, so up to this many are read to find SEARCH_COUNT_LIMIT + 1 distinct orders.
MAX_POSTINGS: Final = 2 * SEARCH_COUNT_LIMIT


@dataclass(frozen=True, slots=True)
class OverLimit:
    """More than SEARCH_COUNT_LIMIT orders match: they are those holding one of `words`, and
    those whose number is in `numbers` (a range, order_numbers.numbers_holding) if any."""

    words: list[str]
    numbers: tuple[str, str] | None = None


def newest_first(using: str, word: str) -> list[str] | OverLimit | None:
    """The ids (as text) of the orders whose search text holds `word`, newest first, then by
    order id, when there are at most SEARCH_COUNT_LIMIT; OverLimit when there are more; None
    when the vocabulary cannot tell cheaply (see the module's docstring)."""
    if len(joined(word)) < TRIGRAM:
        return None  # nothing for the trigram index to narrow: the vocabulary would be read whole
    words = _vocabulary_matches(using, word)
    if words is None:
        return None
    numbers = numbers_holding(word)
    if not words and numbers is None:
        return []
    with connections[using].cursor() as cursor:
        if len(words) == 1 and numbers is None:
            # One word's orders are one range of the index, already newest first and unique.
            cursor.execute(_ONE_WORD_SQL, [words[0], SEARCH_COUNT_LIMIT + 1])
            found = [order_id for (order_id,) in cursor.fetchall()]
            return OverLimit(words) if len(found) > SEARCH_COUNT_LIMIT else found
        reach: list[Any] = [words, MAX_POSTINGS + 1, MAX_POSTINGS + 1]
        if numbers is None:
            cursor.execute(_WORDS_SQL, [*reach, SEARCH_COUNT_LIMIT])
        else:
            cursor.execute(_NUMBERS_AND_WORDS_SQL, [*numbers, SEARCH_COUNT_LIMIT + 1, *reach, SEARCH_COUNT_LIMIT])
        orders, postings, numbered, found = cursor.fetchone()
    if orders > SEARCH_COUNT_LIMIT:
        # A range that holds no number (`-809`, a part of SKUs) leaves the words to page.
        return OverLimit(words, numbers if numbered else None)
    if postings > MAX_POSTINGS:
        return None
    return _ids(found)


def _ids(joined_ids: str | None) -> list[str]:
    """The ids a statement joined by spaces (one value to decode, not a row each)."""
    return joined_ids.split() if joined_ids else []


def page_of(using: str, over: OverLimit, offset: int, limit: int) -> list[UUID] | None:
    """The ids of the matches at `offset` to `offset + limit`, newest first then by order id,
    of a search past the limit; None when that would read more than PAGE_BUDGET postings.

    The first `offset + limit` distinct orders of all the words are among the first
    `offset + limit` postings of each word (an order ranked before another in one word's list
    is ranked before it overall too), so those are read, word by word, and merged. A range of
    order numbers has no such list (its index is in the numbers' order): every order of the
    range is read and its first `offset + limit` merged with them."""
    reach = offset + limit
    if len(over.words) * reach > PAGE_BUDGET:
        return None
    with connections[using].cursor() as cursor:
        if over.numbers is not None:
            cursor.execute(_NUMBERS_PAGE_SQL, [*over.numbers, reach, over.words, reach, limit, offset])
        elif len(over.words) == 1:
            cursor.execute(_ONE_WORD_PAGE_SQL, [over.words[0], limit, offset])
        else:
            cursor.execute(_WORDS_PAGE_SQL, [over.words, reach, limit, offset])
        return [UUID(str(order_id)) for (order_id,) in cursor.fetchall()]


def _vocabulary_matches(using: str, word: str) -> list[str] | None:
    """The vocabulary's words holding `word`; None when more than MAX_WORDS."""
    connection = connections[using]
    like = connection.ops.prep_for_like_query
    with connection.cursor() as cursor:
        cursor.execute(_VOCABULARY_SQL, [f"%{like(joined(word))}%", f"%{like(word)}%", MAX_WORDS + 1])
        words = [found for (found,) in cursor.fetchall()]
    return None if len(words) > MAX_WORDS else words


# The joined word narrows through the trigram index (migration 0017), as the summaries' search
# does (selectors/order_search.py); the plain LIKE is the match.
_VOCABULARY_SQL = (
    f"SELECT word FROM {SearchWord._meta.db_table} WHERE {joined_sql('word')} LIKE %s AND word LIKE %s LIMIT %s"
)

_POSTINGS = SearchPosting._meta.db_table
# Sorted by the posting's own columns, named through its alias (a bare `order_id` would name
# the text answered, and sort by it): the index's order, no sort.
_ONE_WORD_SQL = (
    f"SELECT CAST(posting.order_id AS text) FROM {_POSTINGS} AS posting WHERE posting.word = %s "
    "ORDER BY posting.created_at DESC, posting.order_id ASC LIMIT %s"
)
# Each word's postings are one index range, read word by word (LATERAL) and together at most
# MAX_POSTINGS + 1 (a plain `word = ANY(...)` is planned as a scan of the whole table when the
# statistics expect many rows).
_POSTED = (
    "posted AS MATERIALIZED (SELECT posting.order_id, posting.created_at "
    "FROM unnest(%s::text[]) AS typed (word), LATERAL ("
    f"SELECT order_id, created_at FROM {_POSTINGS} AS found WHERE found.word = typed.word LIMIT %s) AS posting "
    "LIMIT %s)"
)
# The orders whose number is in a range, read through the order list's unique index on it, up
# to SEARCH_COUNT_LIMIT + 1 of them.
_NUMBERED = (
    f"numbered AS MATERIALIZED (SELECT order_id, created_at FROM {OrderSummary._meta.db_table} "
    "WHERE order_number >= %s AND order_number < %s LIMIT %s)"
)


def _counted_sql(hits: str, sources: str, numbered: str) -> str:
    """The statement counting the distinct orders of `sources` (read from the `hits` named
    above) and, only when at most SEARCH_COUNT_LIMIT, sorting them (by the uuid, as the list
    breaks ties) and joining their ids by spaces. One row: orders, postings read, numbered
    orders read (`numbered`), ids."""
    return (
        f"WITH {hits}, orders AS MATERIALIZED (SELECT DISTINCT order_id, created_at FROM ({sources}) AS hit), "
        "counted AS MATERIALIZED (SELECT COUNT(*) AS orders FROM orders) "
        f"SELECT (SELECT orders FROM counted), (SELECT COUNT(*) FROM posted), {numbered}, "
        "(SELECT string_agg(CAST(orders.order_id AS text), ' ' ORDER BY orders.created_at DESC, orders.order_id ASC) "
        "FROM orders WHERE (SELECT orders FROM counted) <= %s)"
    )


_WORDS_SQL = _counted_sql(_POSTED, "SELECT * FROM posted", "0")
_NUMBERS_AND_WORDS_SQL = _counted_sql(
    f"{_NUMBERED}, {_POSTED}",
    "SELECT * FROM numbered UNION ALL SELECT * FROM posted",
    "(SELECT COUNT(*) FROM numbered)",
)

_ONE_WORD_PAGE_SQL = (
    f"SELECT order_id FROM {_POSTINGS} WHERE word = %s ORDER BY created_at DESC, order_id ASC LIMIT %s OFFSET %s"
)
# Each word's first `offset + limit` postings in the list's order (a select list and its FROM).
_FIRST_POSTINGS = (
    "posting.order_id, posting.created_at FROM unnest(%s::text[]) AS typed (word), LATERAL ("
    f"SELECT order_id, created_at FROM {_POSTINGS} AS found WHERE found.word = typed.word "
    "ORDER BY created_at DESC, order_id ASC LIMIT %s) AS posting"
)
_PAGE = "ORDER BY created_at DESC, order_id ASC LIMIT %s OFFSET %s"
_WORDS_PAGE_SQL = f"SELECT order_id FROM (SELECT DISTINCT {_FIRST_POSTINGS}) AS reached {_PAGE}"
# The same with the first `offset + limit` of a range's orders among them: the range is read by
# the numbers' index (the subquery, which OFFSET 0 keeps the planner from asking for in the
# list's order: it would walk the list's order instead, the walk this avoids,
# order_search.WordPages) and its orders sorted, keeping that many.
_NUMBERS_PAGE_SQL = (
    "SELECT order_id FROM ((SELECT order_id, created_at FROM (SELECT order_id, created_at "
    f"FROM {OrderSummary._meta.db_table} WHERE order_number >= %s AND order_number < %s OFFSET 0) AS ranged "
    f"ORDER BY created_at DESC, order_id ASC LIMIT %s) UNION (SELECT {_FIRST_POSTINGS})) AS reached {_PAGE}"
)
