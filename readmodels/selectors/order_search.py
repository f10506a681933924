"""The order search (`?q=`) on the read models: which rows match (readmodels/search.py), and
their pages, counted exactly up to SEARCH_COUNT_LIMIT matches and "at least that many" beyond,
so no search visits more matches than that to count them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, overload
from uuid import UUID

from django.db import connections
from django.db.models import Func, QuerySet, TextField
from django.db.models.lookups import Contains

from eventlog.pg_statements import pg_cursor
from readmodels.models import OrderSummary
from readmodels.search import SEARCH_COUNT_LIMIT, joined, joined_sql, search_words
from readmodels.selectors.summaries import CUSTOMER_FIELDS, SUMMARY_FIELDS, OrderSummaryDTO, summary_dto
from readmodels.selectors.word_search import NEWEST_FIRST, OverLimit, newest_first, page_of


class JoinedSearchText(Func):
    """The search text as its trigram index holds it (readmodels/search.py `joined`), written
    with literal arguments so that the planner matches it to the index's expression."""

    template = joined_sql("%(expressions)s")
    output_field = TextField()


def matching(rows: QuerySet[OrderSummary], text: str | None) -> QuerySet[OrderSummary]:
    """The rows whose search text contains every word of `text` (readmodels/search.py). On
    PostgreSQL each word also narrows the joined text, which the trigram index answers (the
    same rows, found through the index)."""
    words = search_words(text or "")
    indexed = bool(words) and connections[rows.db].vendor == "postgresql"
    for word in words:
        rows = rows.filter(search_text__contains=word)
        if indexed:
            rows = rows.filter(Contains(JoinedSearchText("search_text"), joined(word)))
    return rows


def searched(narrowed: QuerySet[OrderSummary], text: str, ordering: Sequence[str]) -> Sequence[OrderSummaryDTO]:
    """A search's rows, counted exactly up to SEARCH_COUNT_LIMIT matches and "at least
    that many" beyond, so no search visits more than that many matches to count them.

    One statement reads up to one more match than the limit, unsorted (the trigram index,
    stopping there), counts them and, within the limit, sorts them in the list's order: only
    their ids come back, and a page is read by primary key. Left to itself the planner may
    instead walk the `created_at` index through most of the table to find a few old matches.
    Past the limit matches are common (at least 1 row in 100 at 100,000 orders): a page's
    ids come from the list's order walked with each row's text checked on the way
    (`walk_sql`), then its rows by primary key.

    One word in the list's default order with no other filter, the search staff type most,
    is first asked of the vocabulary (selectors/word_search.py), which counts and sorts its
    matches without reading the table; only when it cannot tell are the summaries scanned.
    """
    by_words = _by_words(narrowed, text, ordering)
    found = _sorted_matches(matching(narrowed, text), ordering) if by_words is None else by_words
    if isinstance(found, list):
        return FoundRows(found, narrowed.db)
    walked = WalkedMatches(narrowed, text, ordering)
    return walked if found is None else WordPages(narrowed.db, found, walked)


def _by_words(narrowed: QuerySet[OrderSummary], text: str, ordering: Sequence[str]) -> list[str] | OverLimit | None:
    """word_search's answer where it applies (see `searched`), else None."""
    words = search_words(text)
    if (
        len(words) != 1
        or narrowed.query.where
        or tuple(ordering) != NEWEST_FIRST
        or connections[narrowed.db].vendor != "postgresql"
    ):
        return None
    return newest_first(narrowed.db, words[0])


def _sorted_matches(rows: QuerySet[OrderSummary], ordering: Sequence[str]) -> list[str] | None:
    """The ids of every row of `rows`, as text, in `ordering` then order id; None when there
    are more than SEARCH_COUNT_LIMIT. Sorted and counted in the database, so at most the ids
    cross the connection, and none past the limit."""
    sql, params = sorted_matches_sql(rows, ordering)
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        answer = cursor.fetchall()
    if answer and answer[0][1] > SEARCH_COUNT_LIMIT:
        return None
    return [match for match, _ in answer]


def sorted_matches_sql(rows: QuerySet[OrderSummary], ordering: Sequence[str]) -> tuple[str, list[Any]]:
    """The one statement of `_sorted_matches`: up to SEARCH_COUNT_LIMIT + 1 rows of `rows`,
    unsorted (so an index scan stops there), then counted and sorted. Its rows: (id as text,
    how many), in order; the first alone, id NULL, when past the limit; none when no match."""
    keys = [field.lstrip("-") for field in ordering]
    name = connections[rows.db].ops.quote_name
    found, params = rows.order_by().values_list("order_id", *keys)[: SEARCH_COUNT_LIMIT + 1].query.sql_with_params()
    columns = ["order_id", *(f"k{place}" for place in range(len(keys)))]
    order = _sort_keys(name, columns[1:], ordering)
    sql = (
        f"WITH found ({', '.join(map(name, columns))}) AS ({found}) "
        "SELECT CASE WHEN total <= %s THEN match END, total FROM ("
        "SELECT CAST(order_id AS text) AS match, COUNT(*) OVER () AS total, "
        f"ROW_NUMBER() OVER (ORDER BY {order}order_id ASC) AS place FROM found"
        ") AS counted WHERE total <= %s OR place = 1 ORDER BY place"
    )
    return sql, [*params, SEARCH_COUNT_LIMIT, SEARCH_COUNT_LIMIT]


def walk_sql(
    narrowed: QuerySet[OrderSummary],
    text: str,
    ordering: Sequence[str],
    offset: int,
    limit: int,
    reach: int | None = None,
) -> tuple[str, list[Any]]:
    """The statement of one page of a search past SEARCH_COUNT_LIMIT matches: the ids of the
    matches at `offset` to `offset + limit` in `ordering` then order id; with `reach`, only
    those among the first `reach` rows of that order (fewer than `limit` when it stops short).

    The list's order is read by a subquery asked for every row (`_EVERY_ROW`), and only the
    statement around it checks each row's text and stops at the page's end. Asked for every
    row in order, the planner walks the index that has it (on PostgreSQL the default order's
    `summary_search_walk_idx`, which holds the text too: no table row is read) rather than
    sorting the table; asked directly, it prices the text's `LIKE` as matching a few rows, so
    walking to the 50th looks like walking the whole index, and it sorts the whole table
    instead (81 ms against 0.6 ms at 100,000 orders). The outer ORDER BY is the subquery's
    own, which the planner knows is already sorted: it costs no sort.
    """
    keys = [field.lstrip("-") for field in ordering]
    connection = connections[narrowed.db]
    name = connection.ops.quote_name
    every = narrowed.order_by(*ordering, "order_id").values_list("order_id", *keys, "search_text")[
        : reach or _EVERY_ROW
    ]
    inner, params = every.query.sql_with_params()
    words = search_words(text)
    checks = " AND ".join(f"search_text {connection.operators['contains'] % '%s'}" for _ in words)
    # The subquery's columns are named after their fields (SQLite takes no column list here).
    order = _sort_keys(name, keys, ordering)
    sql = f"SELECT order_id FROM ({inner}) AS walked WHERE {checks} ORDER BY {order}order_id ASC LIMIT %s OFFSET %s"
    like = [f"%{connection.ops.prep_for_like_query(word)}%" for word in words]
    return sql, [*params, *like, limit, offset]


def _sort_keys(name: Callable[[str], str], columns: Sequence[str], ordering: Sequence[str]) -> str:
    """ORDER BY terms for `columns` named after `ordering`'s fields, each followed by ", "."""
    return "".join(
        f"{name(column)} {'DESC' if field.startswith('-') else 'ASC'}, "
        for column, field in zip(columns, ordering, strict=True)
    )


# More rows than any table holds: the walk's subquery asks for all of them (see walk_sql).
_EVERY_ROW = 2**62
# Rows of the list's order a page of a search with a range of order numbers walks before it
# reads the range instead (WordPages): about 2 ms of the walk's index.
WALK_REACH = 10_000


def _rows_by_id(using: str, page: Sequence[UUID]) -> list[OrderSummaryDTO]:
    """The summaries of `page`'s orders by primary key, in `page`'s order; a row that
    changed since its id was read shows as it is now, one deleted since is left out.

    On PostgreSQL read through psycopg's own cursor and compiled loaders (the values are the
    ORM's: the session is in Django's time zone, eventlog/pg_statements.py): the ORM's
    compiling and Django's Python timestamp loader were two thirds of a search page's 50 rows
    (about 1.6 against 0.6 ms at 100,000 orders, docs/performance-log.md)."""
    if not page:
        return []
    if connections[using].vendor == "postgresql":
        with pg_cursor(using) as cursor:
            cursor.execute(_PAGE_ROWS_SQL, [list(page)])
            rows: Iterable[dict[str, Any]] = [dict(zip(_PAGE_FIELDS, row, strict=True)) for row in cursor.fetchall()]
    else:
        rows = OrderSummary.objects.using(using).order_by().filter(order_id__any=page).values(*_PAGE_FIELDS)
    by_id = {row["order_id"]: row for row in rows}
    return [summary_dto(by_id[order_id]) for order_id in page if order_id in by_id]


_PAGE_FIELDS = (*SUMMARY_FIELDS, *CUSTOMER_FIELDS)
_COLUMNS = {field.name: field.column for field in OrderSummary._meta.concrete_fields}
_PAGE_ROWS_SQL = (
    f"SELECT {', '.join(_COLUMNS[name] for name in _PAGE_FIELDS)} "
    f"FROM {OrderSummary._meta.db_table} WHERE order_id = ANY(%s)"
)


class _PagedById(Sequence[OrderSummaryDTO]):
    """Order summaries of a search: a page finds its ids (`_page_ids`), then reads their rows
    by primary key."""

    count_exact: bool

    def __init__(self, count: int, using: str) -> None:
        self._count, self._using = count, using

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> OrderSummaryDTO: ...

    @overload
    def __getitem__(self, index: slice) -> list[OrderSummaryDTO]: ...

    def __getitem__(self, index: int | slice) -> OrderSummaryDTO | list[OrderSummaryDTO]:
        if isinstance(index, int):
            return self[index : index + 1 or None][0]
        start, stop, step = index.indices(self._count)
        return _rows_by_id(self._using, self._page_ids(start, max(0, stop - start))[::step])

    def _page_ids(self, offset: int, limit: int) -> list[UUID]:
        raise NotImplementedError


class FoundRows(_PagedById):
    """Order summaries whose ids are known and sorted: every match, counted exactly."""

    count_exact = True

    def __init__(self, order_ids: list[str], using: str) -> None:
        super().__init__(len(order_ids), using)
        self._ids = order_ids

    def _page_ids(self, offset: int, limit: int) -> list[UUID]:
        return [UUID(order_id) for order_id in self._ids[offset : offset + limit]]


class WalkedMatches(_PagedById):
    """The first SEARCH_COUNT_LIMIT matches of a search that has more, in the list's order:
    a page walks that order to its matches (walk_sql). Counted as "at least" the limit."""

    count_exact = False

    def __init__(self, narrowed: QuerySet[OrderSummary], text: str, ordering: Sequence[str]) -> None:
        super().__init__(SEARCH_COUNT_LIMIT, narrowed.db)
        self._narrowed, self._text, self._ordering = narrowed, text, ordering

    def _page_ids(self, offset: int, limit: int, reach: int | None = None) -> list[UUID]:
        if not limit:
            return []
        sql, params = walk_sql(self._narrowed, self._text, self._ordering, offset, limit, reach)
        with connections[self._narrowed.db].cursor() as cursor:
            cursor.execute(sql, params)
            return [UUID(str(order_id)) for (order_id,) in cursor.fetchall()]


class WordPages(_PagedById):
    """The first SEARCH_COUNT_LIMIT matches of a one-word search that has more, newest first:
    a page merges its words' postings (word_search.page_of), or, past that reading budget,
    walks the list's order as WalkedMatches does. Counted as "at least" the limit.

    With a range of order numbers among the matches, a page first walks the newest
    WALK_REACH rows of the list: a range of recent numbers, or one spread through time, has
    its page there. A range of old numbers has its orders where they were placed in time, and
    the walk would pass every newer order to reach them (25-33 ms at 100,000 orders for
    `ord-000`, and more as the shop grows): past WALK_REACH the page is read from the range
    itself, its orders sorted (word_search.page_of), which costs as many rows as the range
    holds instead (5.5 ms; docs/performance-log.md)."""

    count_exact = False

    def __init__(self, using: str, over: OverLimit, walked: WalkedMatches) -> None:
        super().__init__(SEARCH_COUNT_LIMIT, using)
        self._over, self._walked = over, walked

    def _page_ids(self, offset: int, limit: int) -> list[UUID]:
        if not limit:
            return []
        if self._over.numbers is not None:
            walked = self._walked._page_ids(offset, limit, reach=WALK_REACH)
            if len(walked) == limit:
                return walked  # the newest WALK_REACH rows hold the page, and so its place
        page = page_of(self._using, self._over, offset, limit)
        return self._walked._page_ids(offset, limit) if page is None else page
