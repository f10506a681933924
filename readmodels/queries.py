"""Named queries, one handler each, dispatched through a query bus.

Every query the API asks passes the middleware named in settings.QUERY_MIDDLEWARE (logging
and metrics, monitoring/pipeline.py), the same shape as the command bus, so views stay
thin: parse the request, ask, render. Handlers are the selectors; they return DTOs (or None
for "no such thing") and change nothing. A list handler returns the lazy page source the
view paginates, so its rows are read (and timed) when the page is.

A query names its answer's type (`ListOrders` is a `Query[Sequence[OrderSummaryDTO]]`), so
`ask` returns that type; the registry keeps one handler per query type, and the unit tests
check each handler's declared answer against its query's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

from pipeline.chain import chain, configured_middleware
from readmodels.selectors.customers import CustomerStatsDTO, customer_stats
from readmodels.selectors.history import HistoryEntryDTO, Page, order_as_of, order_at_version, order_history
from readmodels.selectors.orders import (
    DEFAULT_ORDERING,
    OrderDetailDTO,
    order_detail,
    order_summary_list,
)
from readmodels.selectors.products import ProductStockDTO, ProductStockRows, product_stock, product_stock_list
from readmodels.selectors.sales import DailySalesDTO, daily_sales
from readmodels.selectors.stories import StoryEntryDTO, order_story
from readmodels.selectors.summaries import OrderSummaryDTO

# What a query is answered with; covariant, so a Query[X] is a Query[object] to the middleware.
AnswerT_co = TypeVar("AnswerT_co", covariant=True)
AnswerT = TypeVar("AnswerT")
QueryT = TypeVar("QueryT", bound="Query[object]")


@dataclass(frozen=True, kw_only=True, slots=True)
class Query(Generic[AnswerT_co]):
    """Base of every query: a question about the read side, named for what it asks, whose
    type parameter is the type of its answer."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ListOrders(Query[Sequence[OrderSummaryDTO]]):
    status: str | None = None
    customer_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # Free text: every word found in the order's number, customer, e-mail, SKUs, shipping name or city.
    text: str | None = None
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    # True: only orders still owing money back; False: only those owing nothing.
    refund_due: bool | None = None
    ordering: Sequence[str] = DEFAULT_ORDERING


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrder(Query[OrderDetailDTO | None]):
    """One order now, or as it was at `as_of` or at `version` (read from the event log)."""

    order_id: UUID
    as_of: datetime | None = None
    version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderHistory(Query[Page[HistoryEntryDTO] | None]):
    """A page of the order's own events from the event log, after `after_version`."""

    order_id: UUID
    after_version: int = 0
    limit: int


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderStory(Query[Page[StoryEntryDTO] | None]):
    """A page of the events of every stream sharing a correlation id with the order (only
    `correlation` if given), after `after_position`."""

    order_id: UUID
    correlation: UUID | None = None
    after_position: int = 0
    limit: int


@dataclass(frozen=True, kw_only=True, slots=True)
class GetCustomerStats(Query[CustomerStatsDTO | None]):
    customer_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ListDailySales(Query[list[DailySalesDTO]]):
    # Both days included; None: every currency.
    since: date
    until: date
    currency: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ListProducts(Query[ProductStockRows]):
    # Every word in the SKU or name (any case); only products low on stock (LOW_STOCK_THRESHOLD).
    text: str | None = None
    low_stock: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class GetProduct(Query[ProductStockDTO | None]):
    sku: str


def _list_orders(query: ListOrders) -> Sequence[OrderSummaryDTO]:
    return order_summary_list(
        status=query.status,
        customer_id=query.customer_id,
        created_after=query.created_after,
        created_before=query.created_before,
        text=query.text,
        total_min=query.total_min,
        total_max=query.total_max,
        refund_due=query.refund_due,
        ordering=query.ordering,
    )


def _get_order(query: GetOrder) -> OrderDetailDTO | None:
    if query.version is not None:
        return order_at_version(query.order_id, query.version)
    return order_detail(query.order_id) if query.as_of is None else order_as_of(query.order_id, query.as_of)


def _get_order_history(query: GetOrderHistory) -> Page[HistoryEntryDTO] | None:
    return order_history(query.order_id, after_version=query.after_version, limit=query.limit)


def _get_order_story(query: GetOrderStory) -> Page[StoryEntryDTO] | None:
    return order_story(query.order_id, query.correlation, after_position=query.after_position, limit=query.limit)


def _get_customer_stats(query: GetCustomerStats) -> CustomerStatsDTO | None:
    return customer_stats(query.customer_id)


def _list_products(query: ListProducts) -> ProductStockRows:
    return product_stock_list(text=query.text, low_stock=query.low_stock)


def _get_product(query: GetProduct) -> ProductStockDTO | None:
    return product_stock(query.sku)


def _list_daily_sales(query: ListDailySales) -> list[DailySalesDTO]:
    return daily_sales(query.since, query.until, query.currency)


class QueryHandlers:
    """One handler per query type. `add` takes only a handler of that very type; `answer`
    returns what the query's type parameter names (the one cast: a mapping cannot tie each
    key's type to its value's, and tests/unit/test_query_bus.py checks every pair)."""

    def __init__(self) -> None:
        # Any: each value takes its own key's query type, which a dict's value type cannot say.
        self._handlers: dict[type[Query[object]], Callable[[Any], object]] = {}

    def add(self, query_type: type[QueryT], handler: Callable[[QueryT], object]) -> QueryHandlers:
        if self._handlers.get(query_type, handler) is not handler:
            raise RuntimeError(f"{query_type.__name__} has a handler already: {self._handlers[query_type]!r}")
        self._handlers[query_type] = handler
        return self

    def answer(self, query: Query[AnswerT]) -> AnswerT:
        return cast(AnswerT, self._handlers[type(query)](query))

    def items(self) -> list[tuple[type[Query[object]], Callable[[Any], object]]]:
        return list(self._handlers.items())


HANDLERS = (
    QueryHandlers()
    .add(ListOrders, _list_orders)
    .add(GetOrder, _get_order)
    .add(GetOrderHistory, _get_order_history)
    .add(GetOrderStory, _get_order_story)
    .add(GetCustomerStats, _get_customer_stats)
    .add(ListProducts, _list_products)
    .add(GetProduct, _get_product)
    .add(ListDailySales, _list_daily_sales)
)

# A middleware sees every query, so it knows only that a query has some answer.
QueryMiddleware = Callable[[Query[object], Callable[[Query[object]], object]], object]


class QueryBus:
    """Dispatches a query through its middleware to its one handler."""

    def __init__(self, handlers: QueryHandlers = HANDLERS, middleware: Sequence[QueryMiddleware] = ()) -> None:
        self.handlers = handlers
        self._chain: Callable[[Query[object]], object] = chain(middleware, self.handlers.answer)

    def ask(self, query: Query[AnswerT]) -> AnswerT:
        # The middleware passes on the handler's answer unchanged (monitoring/pipeline.py).
        return cast(AnswerT, self._chain(query))


_default_bus: QueryBus | None = None


def ask(query: Query[AnswerT]) -> AnswerT:
    """Answer a query with the default bus (the configured middleware), built on first use."""
    global _default_bus
    if _default_bus is None:
        _default_bus = QueryBus(middleware=configured_middleware("QUERY_MIDDLEWARE"))
    return _default_bus.ask(query)
