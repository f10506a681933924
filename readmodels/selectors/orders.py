"""Order queries on the read models (summaries, the list and its search, the detail) into DTOs;
the history and the past states, read from the event log, are in selectors/history.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from operator import itemgetter
from typing import Any, overload
from uuid import UUID

from django.db.models import QuerySet, Sum
from django.utils.dateparse import parse_datetime

from readmodels.models import OrderDetail, OrderStatusCount, OrderSummary
from readmodels.search import SEARCH_COUNT_LIMIT, search_words

SUMMARY_FIELDS = (
    "order_id",
    "order_number",
    "customer_id",
    "status",
    "item_count",
    "total_amount",
    "currency",
    "created_at",
    "updated_at",
    "version",
    "refund_due",
    "refunded",
)
# Whose order it is, on list rows; on the detail they come from its e-mail and shipping address.
CUSTOMER_FIELDS = ("customer_name", "customer_email")


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderSummaryDTO:
    """One row of the order list."""

    order_id: UUID
    order_number: str
    customer_id: str
    status: str
    item_count: int
    total_amount: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
    version: int
    # The shipping address's name and the e-mail; None when the order has none or once the
    # customer was forgotten.
    customer_name: str | None
    customer_email: str | None
    # What the shop still owes the customer back, and what it has paid back.
    refund_due: Decimal
    refunded: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderLineDTO:
    """One line of an order."""

    sku: str
    # The product's current catalog name; None for an SKU that is not a registered product.
    name: str | None
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    # How many of it came back (returns of the delivered order).
    returned: int


@dataclass(frozen=True, kw_only=True, slots=True)
class TimelineEntryDTO:
    """Something that happened to an order."""

    event_type: str
    occurred_at: datetime
    description: str
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class AddressDTO:
    """A postal address of an order; name and lines None once its customer was forgotten."""

    name: str | None
    line1: str | None
    line2: str | None
    postal_code: str
    city: str
    country: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderDetailDTO(OrderSummaryDTO):
    """An order with its lines, addresses, payment and timeline."""

    items: tuple[OrderLineDTO, ...]
    payment_id: str
    tracking_number: str
    carrier: str
    cancel_reason: str
    shipping_address: AddressDTO | None
    billing_address: AddressDTO | None
    payment_method: str | None
    # The latest entries (ORDER_TIMELINE_ENTRIES), oldest first, and how many there are in all.
    timeline: tuple[TimelineEntryDTO, ...]
    timeline_count: int


DEFAULT_ORDERING = ("-created_at",)


class OrderSummaryRows(Sequence[OrderSummaryDTO]):
    """A lazy, sliceable list of order summaries: a paginator counts it and slices one page,
    so only that page is read, and it comes out as DTOs. `count_exact` is False when its
    length is a lower bound (a search past SEARCH_COUNT_LIMIT matches): pages reach that far."""

    def __init__(
        self,
        rows: QuerySet[OrderSummary, dict[str, Any]],
        count: Callable[[], int] | None = None,
        *,
        count_exact: bool = True,
    ) -> None:
        self._rows = rows
        self._count = count or rows.count
        self.count_exact = count_exact

    def __len__(self) -> int:
        return self._count()

    @overload
    def __getitem__(self, index: int) -> OrderSummaryDTO: ...

    @overload
    def __getitem__(self, index: slice) -> list[OrderSummaryDTO]: ...

    def __getitem__(self, index: int | slice) -> OrderSummaryDTO | list[OrderSummaryDTO]:
        if isinstance(index, slice):
            return [_summary_dto(row) for row in self._rows[index]]
        return _summary_dto(self._rows[index])


def _summary_dto(row: dict[str, Any]) -> OrderSummaryDTO:
    return OrderSummaryDTO(
        **{field: row[field] for field in SUMMARY_FIELDS},
        customer_name=row["customer_name"] or None,
        customer_email=row["customer_email"] or None,
    )


def matching(rows: QuerySet[OrderSummary], text: str | None) -> QuerySet[OrderSummary]:
    """The rows whose search text contains every word of `text` (readmodels/search.py)."""
    for word in search_words(text or ""):
        rows = rows.filter(search_text__contains=word)
    return rows


def order_summary_list(
    *,
    status: str | None = None,
    customer_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    text: str | None = None,
    total_min: Decimal | None = None,
    total_max: Decimal | None = None,
    refund_due: bool | None = None,
    ordering: Sequence[str] = DEFAULT_ORDERING,
) -> Sequence[OrderSummaryDTO]:
    """Order summaries matching the filters and the search `text`, in `ordering` (field
    names, "-" for descending); `refund_due` True keeps the orders that still owe money back,
    False those that owe nothing."""
    lookups = {
        "customer_id": customer_id or None,
        "created_at__gte": created_after,
        "created_at__lte": created_before,
        "total_amount__gte": total_min,
        "total_amount__lte": total_max,
        "refund_due__gt" if refund_due else "refund_due": None if refund_due is None else Decimal("0.00"),
    }
    narrowing = {lookup: value for lookup, value in lookups.items() if value is not None}
    rows = matching(OrderSummary.objects.filter(**narrowing), text)
    if status:
        rows = rows.filter(status=status)
    # order_id breaks ties so that pages neither repeat nor skip rows.
    ordered = rows.order_by(*(ordering or DEFAULT_ORDERING), "order_id").values(*SUMMARY_FIELDS, *CUSTOMER_FIELDS)
    if search_words(text or ""):
        return _searched(rows, ordered, ordering or DEFAULT_ORDERING)
    if narrowing:
        return OrderSummaryRows(ordered)
    # Filtered by status alone (or not at all): the projection keeps that total, and
    # counting a status's rows grows with the table (about 10 ms at 100,000 orders).
    return OrderSummaryRows(ordered, count=partial(orders_in_status, status))


def _searched(
    rows: QuerySet[OrderSummary], ordered: QuerySet[OrderSummary, dict[str, Any]], ordering: Sequence[str]
) -> Sequence[OrderSummaryDTO]:
    """A search's rows, counted exactly up to SEARCH_COUNT_LIMIT matches and "at least
    that many" beyond, so no search visits more than that many matches to count them.

    Up to one more match than the limit is read first, unsorted (the trigram index, stopping
    there), with the fields the list sorts by. Within the limit those are all the matches:
    they are sorted here and a page is read by primary key. Left to itself the planner may
    instead walk the `created_at` index through most of the table to find a few old matches.
    Past the limit matches are common, so that walk finds a page soon.
    """
    keys = [field.lstrip("-") for field in ordering]
    # order_by(): unsorted, so the scan stops at the limit (the model's ordering would sort every match).
    found = list(rows.order_by().values_list("order_id", *keys)[: SEARCH_COUNT_LIMIT + 1])
    if len(found) > SEARCH_COUNT_LIMIT:
        return OrderSummaryRows(ordered, count=lambda: SEARCH_COUNT_LIMIT, count_exact=False)
    # Stable sorts, least significant key first: order_id (the tie-breaker, ascending), then
    # the ordering's fields from last to first, each in its direction.
    found.sort(key=itemgetter(0))
    for index, field in reversed(list(enumerate(ordering, start=1))):
        found.sort(key=itemgetter(index), reverse=field.startswith("-"))
    return FoundRows([row[0] for row in found])


class FoundRows(Sequence[OrderSummaryDTO]):
    """Order summaries whose ids are known and sorted: a page reads its rows by primary key.
    A row that changed since the ids were read shows as it is now."""

    count_exact = True

    def __init__(self, order_ids: list[UUID]) -> None:
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
        page = self._ids[index]
        if not page:
            return []
        rows = OrderSummary.objects.order_by().filter(order_id__any=page).values(*SUMMARY_FIELDS, *CUSTOMER_FIELDS)
        by_id = {row["order_id"]: row for row in rows}
        return [_summary_dto(by_id[order_id]) for order_id in page if order_id in by_id]


def orders_in_status(status: str | None = None) -> int:
    """How many orders are in `status` (all orders if None), from OrderStatusCount."""
    counts = OrderStatusCount.objects.all()
    if status:
        counts = counts.filter(status=status)
    return int(counts.aggregate(total=Sum("orders"))["total"] or 0)


def _address_dto(stored: dict[str, Any] | None) -> AddressDTO | None:
    return None if stored is None else AddressDTO(**stored)


def detail_dto(view: dict[str, Any]) -> OrderDetailDTO:
    return OrderDetailDTO(
        **{field: view[field] for field in SUMMARY_FIELDS},
        customer_name=(view["shipping_address"] or {}).get("name") or None,
        items=tuple(
            OrderLineDTO(
                sku=line["sku"],
                # Rows written before names existed have no key.
                name=line.get("name"),
                quantity=line["quantity"],
                unit_price=Decimal(line["unit_price"]),
                line_total=Decimal(line["line_total"]),
                # Only lines that had returns carry the key.
                returned=line.get("returned", 0),
            )
            for line in view["lines"]
        ),
        payment_id=view["payment_id"],
        tracking_number=view["tracking_number"],
        carrier=view["carrier"],
        cancel_reason=view["cancel_reason"],
        customer_email=view["customer_email"] or None,
        shipping_address=_address_dto(view["shipping_address"]),
        billing_address=_address_dto(view["billing_address"]),
        payment_method=view["payment_method"] or None,
        timeline=tuple(
            TimelineEntryDTO(
                event_type=entry["event_type"],
                occurred_at=parse_datetime(entry["occurred_at"]) or view["created_at"],
                description=entry["description"],
                version=entry["version"],
            )
            for entry in view["timeline"]
        ),
        timeline_count=view["timeline_count"],
    )


def order_detail(order_id: UUID) -> OrderDetailDTO | None:
    """The order's detail from the read model, or None if it is not projected (yet)."""
    row: dict[str, Any] | None = OrderDetail.objects.filter(order_id=order_id).values().first()  # type: ignore[assignment]
    return detail_dto(row) if row else None
