"""Named queries, one handler each, dispatched through a query bus.

Every query the API asks passes the middleware named in settings.QUERY_MIDDLEWARE (logging
and metrics, monitoring/pipeline.py), the same shape as the command bus, so views stay
thin: parse the request, ask, render. Handlers are the selectors; they return DTOs (or None
for "no such thing") and change nothing. A list handler returns the lazy page source the
view paginates, so its rows are read (and timed) when the page is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from readmodels.selectors.customers import customer_stats
from readmodels.selectors.history import order_as_of, order_at_version, order_history
from readmodels.selectors.orders import DEFAULT_ORDERING, order_detail, order_summary_list
from readmodels.selectors.products import product_stock, product_stock_list
from readmodels.selectors.sales import daily_sales
from readmodels.selectors.stories import order_story
from writeside.pipeline import chain, configured_middleware


@dataclass(frozen=True, kw_only=True, slots=True)
class Query:
    """Base of every query: a question about the read side, named for what it asks."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ListOrders(Query):
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
class GetOrder(Query):
    """One order now, or as it was at `as_of` or at `version` (read from the event log)."""

    order_id: UUID
    as_of: datetime | None = None
    version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderHistory(Query):
    """A page of the order's own events from the event log, after `after_version`."""

    order_id: UUID
    after_version: int = 0
    limit: int


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderStory(Query):
    """A page of the events of every stream sharing a correlation id with the order (only
    `correlation` if given), after `after_position`."""

    order_id: UUID
    correlation: UUID | None = None
    after_position: int = 0
    limit: int


@dataclass(frozen=True, kw_only=True, slots=True)
class GetCustomerStats(Query):
    customer_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ListDailySales(Query):
    # Both days included; None: every currency.
    since: date
    until: date
    currency: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ListProducts(Query):
    # Every word in the SKU or name (any case); only products low on stock (LOW_STOCK_THRESHOLD).
    text: str | None = None
    low_stock: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class GetProduct(Query):
    sku: str


def _list_orders(query: ListOrders) -> Any:
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


def _get_order(query: GetOrder) -> Any:
    if query.version is not None:
        return order_at_version(query.order_id, query.version)
    return order_detail(query.order_id) if query.as_of is None else order_as_of(query.order_id, query.as_of)


HANDLERS: Mapping[type[Query], Callable[[Any], Any]] = {
    ListOrders: _list_orders,
    GetOrder: _get_order,
    GetOrderHistory: lambda query: order_history(query.order_id, after_version=query.after_version, limit=query.limit),
    GetOrderStory: lambda query: order_story(
        query.order_id, query.correlation, after_position=query.after_position, limit=query.limit
    ),
    GetCustomerStats: lambda query: customer_stats(query.customer_id),
    ListProducts: lambda query: product_stock_list(text=query.text, low_stock=query.low_stock),
    GetProduct: lambda query: product_stock(query.sku),
    ListDailySales: lambda query: daily_sales(query.since, query.until, query.currency),
}

QueryMiddleware = Callable[[Query, Callable[[Query], Any]], Any]


class QueryBus:
    """Dispatches a query through its middleware to its one handler."""

    def __init__(
        self,
        handlers: Mapping[type[Query], Callable[[Any], Any]] = HANDLERS,
        middleware: Sequence[QueryMiddleware] = (),
    ) -> None:
        self.handlers = handlers
        self._chain: Callable[[Query], Any] = chain(middleware, self._run)

    def ask(self, query: Query) -> Any:
        return self._chain(query)

    def _run(self, query: Query) -> Any:
        return self.handlers[type(query)](query)


_default_bus: QueryBus | None = None


def ask(query: Query) -> Any:
    """Answer a query with the default bus (the configured middleware), built on first use."""
    global _default_bus
    if _default_bus is None:
        _default_bus = QueryBus(middleware=configured_middleware("QUERY_MIDDLEWARE"))
    return _default_bus.ask(query)
