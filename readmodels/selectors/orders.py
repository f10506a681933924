"""Order queries on the read models (the list, the detail) into DTOs; the list's search is in
selectors/order_search.py, the history and the past states, read from the event log, in
selectors/history.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, overload
from uuid import UUID

from django.db.models import QuerySet, Sum
from django.utils.dateparse import parse_datetime

from readmodels.models import OrderDetail, OrderStatusCount, OrderSummary
from readmodels.search import search_words
from readmodels.selectors.order_search import searched
from readmodels.selectors.summaries import CUSTOMER_FIELDS, SUMMARY_FIELDS, OrderSummaryDTO, summary_dto


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
            return [summary_dto(row) for row in self._rows[index]]
        return summary_dto(self._rows[index])


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
    narrowed = OrderSummary.objects.filter(**narrowing, **({"status": status} if status else {}))
    if search_words(text or ""):
        return searched(narrowed, text or "", ordering or DEFAULT_ORDERING)
    # order_id breaks ties so that pages neither repeat nor skip rows.
    ordered = narrowed.order_by(*(ordering or DEFAULT_ORDERING), "order_id").values(*SUMMARY_FIELDS, *CUSTOMER_FIELDS)
    if narrowing:
        return OrderSummaryRows(ordered)
    # Filtered by status alone (or not at all): the projection keeps that total, and
    # counting a status's rows grows with the table (about 10 ms at 100,000 orders).
    return OrderSummaryRows(ordered, count=partial(orders_in_status, status))


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
