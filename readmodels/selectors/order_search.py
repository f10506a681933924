"""The order search (`?q=`) on the read models: which rows match (readmodels/search.py), and
their pages, counted exactly up to SEARCH_COUNT_LIMIT matches and "at least that many" beyond,
so no search visits more matches than that to count them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload
from uuid import UUID

from django.db import connections
from django.db.models import Func, QuerySet, TextField
from django.db.models.lookups import Contains

from readmodels.models import OrderSummary
from readmodels.search import JOINER_LETTER, SEARCH_COUNT_LIMIT, WORD_JOINERS, joined, search_words
from readmodels.selectors.summaries import CUSTOMER_FIELDS, SUMMARY_FIELDS, OrderSummaryDTO, summary_dto


def _joined_sql(column: str) -> str:
    """SQL of `column` with each WORD_JOINERS character replaced by JOINER_LETTER."""
    for joiner in WORD_JOINERS:
        column = f"replace({column}, '{joiner}', '{JOINER_LETTER}')"
    return column


class JoinedSearchText(Func):
    """The search text as its trigram index holds it (readmodels/search.py `joined`), written
    with literal arguments so that the planner matches it to the index's expression."""

    template = _joined_sql("%(expressions)s")
    output_field = TextField()


def matching(rows: QuerySet[OrderSummary], text: str | None, *, by_trigrams: bool = True) -> QuerySet[OrderSummary]:
    """The rows whose search text contains every word of `text` (readmodels/search.py). On
    PostgreSQL, unless `by_trigrams` is False, each word also narrows the joined text, which
    the trigram index answers (the same rows, found through the index)."""
    words = search_words(text or "")
    indexed = by_trigrams and bool(words) and connections[rows.db].vendor == "postgresql"
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
    ids come from the list's order walked with each row's text checked on the way (on
    PostgreSQL the index `summary_search_walk_idx` holds that text, so the walk reads no
    table rows), then its rows by primary key. That walk leaves out the trigram condition,
    whose estimate of a few matches would make the planner read and sort every one.
    """
    found = _sorted_matches(matching(narrowed, text), ordering)
    if found is None:
        # Without the trigram condition the planner prices the matches as many: it walks the
        # index, or scans the table and keeps the newest when it expects that cheaper.
        walked = matching(narrowed, text, by_trigrams=False)
        newest = walked.order_by(*ordering, "order_id").values_list("order_id", flat=True)
        return PagedIds(newest, count=SEARCH_COUNT_LIMIT, count_exact=False)
    return FoundRows(found)


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
    order = "".join(
        f"{name(column)} {'DESC' if field.startswith('-') else 'ASC'}, "
        for column, field in zip(columns[1:], ordering, strict=True)
    )
    sql = (
        f"WITH found ({', '.join(map(name, columns))}) AS ({found}) "
        "SELECT CASE WHEN total <= %s THEN match END, total FROM ("
        "SELECT CAST(order_id AS text) AS match, COUNT(*) OVER () AS total, "
        f"ROW_NUMBER() OVER (ORDER BY {order}order_id ASC) AS place FROM found"
        ") AS counted WHERE total <= %s OR place = 1 ORDER BY place"
    )
    return sql, [*params, SEARCH_COUNT_LIMIT, SEARCH_COUNT_LIMIT]


def _rows_by_id(page: Sequence[UUID]) -> list[OrderSummaryDTO]:
    """The summaries of `page`'s orders by primary key, in `page`'s order; a row that
    changed since its id was read shows as it is now, one deleted since is left out."""
    if not page:
        return []
    rows = OrderSummary.objects.order_by().filter(order_id__any=page).values(*SUMMARY_FIELDS, *CUSTOMER_FIELDS)
    by_id = {row["order_id"]: row for row in rows}
    return [summary_dto(by_id[order_id]) for order_id in page if order_id in by_id]


class FoundRows(Sequence[OrderSummaryDTO]):
    """Order summaries whose ids are known and sorted: a page reads its rows by primary key."""

    count_exact = True

    def __init__(self, order_ids: list[str]) -> None:
        self._ids = order_ids

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> OrderSummaryDTO: ...

    @overload
    def __getitem__(self, index: slice) -> list[OrderSummaryDTO]: ...

    def __getitem__(self, index: int | slice) -> OrderSummaryDTO | list[OrderSummaryDTO]:
        if isinstance(index, int):
            return self[index : index + 1 or None][0]
        return _rows_by_id([UUID(order_id) for order_id in self._ids[index]])


class PagedIds(Sequence[OrderSummaryDTO]):
    """Order summaries whose ids a query yields in order: a page reads its slice of ids
    (only the columns an index may hold), then its rows by primary key. Counted as given."""

    def __init__(self, order_ids: QuerySet[OrderSummary, UUID], *, count: int, count_exact: bool) -> None:
        self._ids = order_ids
        self._count = count
        self.count_exact = count_exact

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> OrderSummaryDTO: ...

    @overload
    def __getitem__(self, index: slice) -> list[OrderSummaryDTO]: ...

    def __getitem__(self, index: int | slice) -> OrderSummaryDTO | list[OrderSummaryDTO]:
        if isinstance(index, int):
            return self[index : index + 1 or None][0]
        return _rows_by_id(list(self._ids[index]))
