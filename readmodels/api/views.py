"""Query endpoints: read-model tables only (as_of reads the event log; so does the history,
in history.py)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from projector.status import wait_until_applied
from readmodels.api.filters import ORDERING_FIELDS, OrderSummaryFilter, utc
from readmodels.api.serializers import CustomerStatsOut, OrderDetailOut, OrderPageOut, OrderSummaryOut
from readmodels.queries import GetCustomerStats, GetOrder, ListOrders, ask
from readmodels.wait_slots import wait_slot
from web.serializers import problem_responses
from web.throttles import ScopedThrottle

MAX_POSITION = 2**63 - 1
# ASCII digits only: str.isdigit() accepts "²", which int() then refuses.
_POSITION = re.compile(r"[0-9]{1,19}")
_ENTITY_TAG = re.compile(r'(?:W/)?"([^"]*)"')
STALE_HEADER = "X-Read-Model-Stale"
MIN_POSITION = OpenApiParameter(
    "min_position",
    OpenApiTypes.INT,
    description="Wait (bounded) until the read models applied this position (a command's `position`).",
)
STALE = OpenApiParameter(
    STALE_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=True,
    description="`true` when min_position was not reached in time: the answer may not show that write yet.",
)
QUERY_ERRORS = problem_responses({400: "Invalid parameter", 401: "Not authenticated", 429: "Too many requests"})
NOT_FOUND = problem_responses({404: "Unknown (or not yet projected) order"})


def counter_param(request: Request, name: str, lowest: int = 0) -> int | None:
    """A query parameter that counts (a position, a version), validated: 400 unless an
    integer from `lowest` to the largest 64-bit one."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not _POSITION.fullmatch(raw) or not lowest <= int(raw) <= MAX_POSITION:
        raise exceptions.ValidationError({name: [f"Must be an integer of at least {lowest}."]})
    return int(raw)


def min_position(request: Request) -> int | None:
    """?min_position=, validated (400 unless a non-negative 64-bit integer)."""
    return counter_param(request, "min_position")


def read_your_writes(request: Request) -> bool:
    """Honour ?min_position=; True if the read models are still behind it (stale).

    Without a free wait slot for this user the request does not wait: it answers at once.
    """
    position = min_position(request)
    if position is None:
        return False
    # The slot is taken only if the read models are behind: an answer already there holds none.
    timeout = float(settings.READ_YOUR_WRITES_TIMEOUT)
    return not wait_until_applied(position, timeout, slot=wait_slot(str(request.user.pk)))


def answer(data: Any, stale: bool, code: int = status.HTTP_200_OK) -> Response:
    """A query response, marked stale when the read models were behind."""
    response = Response(data, status=code)
    if stale:
        response[STALE_HEADER] = "true"
    return response


def path_order_id(value: str) -> UUID:
    """The order id from the path; a malformed id names no order."""
    try:
        return UUID(value)
    except ValueError:
        raise exceptions.NotFound(f"Order {value} does not exist") from None


def not_modified(request: Request, etag: str) -> bool:
    """True if If-None-Match names `etag` (weak or strong) or is `*`."""
    header = request.headers.get("If-None-Match", "")
    if header.strip() == "*":
        return True
    return etag.strip('"') in _ENTITY_TAG.findall(header)


def parse_instant(raw: str, name: str) -> datetime:
    """An ISO 8601 date-time from a query parameter, in UTC (400 if it is not one)."""
    # An unencoded "+00:00" arrives as " 00:00" in a query string.
    try:
        instant = parse_datetime(raw.strip().replace(" ", "+"))
    except ValueError:
        instant = None
    if instant is None:
        raise exceptions.ValidationError({name: ["Must be an ISO 8601 date-time."]})
    return utc(instant, name)


class QueryView(APIView):
    """Base of the query endpoints: a signed-in user, the `queries` rate."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "queries"


class OrderPagination(PageNumberPagination):
    """?page= (and ?page_size=, up to 200); the answer says whether `count` is exact (a
    search counts up to SEARCH_COUNT_LIMIT matches, readmodels/search.py)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> list[Any] | None:
        page = super().paginate_queryset(queryset, request, view)
        # Read after the paginator counted: a search knows only then.
        self.count_exact = bool(getattr(queryset, "count_exact", True))
        return page

    def get_paginated_response(self, data: Any) -> Response:
        assert self.page is not None  # paginate_queryset ran
        return Response(
            {
                "count": self.page.paginator.count,
                "count_exact": self.count_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )


class OrderListView(QueryView):
    """GET /api/orders/: the order list, filtered, ordered and paged."""

    @extend_schema(
        operation_id="list_orders",
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=[c[0] for c in OrderSummaryFilter.base_filters["status"].extra["choices"]],
            ),
            OpenApiParameter("customer_id", OpenApiTypes.STR),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description="Free text, case-insensitive, partial words: orders whose number, customer id, "
                "customer e-mail, SKUs, shipping name or city contain every word (at most 8 words, 200 characters).",
            ),
            OpenApiParameter("total_min", OpenApiTypes.DECIMAL, description="Total at least this, e.g. `10.00`."),
            OpenApiParameter("total_max", OpenApiTypes.DECIMAL, description="Total at most this (≥ total_min)."),
            OpenApiParameter(
                "refund_due",
                OpenApiTypes.STR,
                enum=["true", "false"],
                description="`true`: orders that still owe the customer money back; `false`: those that owe nothing.",
            ),
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                description="Comma-separated, `-` for descending; default `-created_at`. Fields: "
                + ", ".join(ORDERING_FIELDS),
            ),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 200; default 50."),
            MIN_POSITION,
            STALE,
        ],
        responses={200: OrderPageOut, **problem_responses({404: "No such page"}), **QUERY_ERRORS},
        tags=["queries"],
    )
    def get(self, request: Request) -> Response:
        selection = OrderSummaryFilter(request.query_params).selection()
        stale = read_your_writes(request)
        paginator = OrderPagination()
        rows = ask(ListOrders(**selection))  # a lazy Sequence, which Django's Paginator accepts
        page = paginator.paginate_queryset(rows, request, view=self)
        response = paginator.get_paginated_response(OrderSummaryOut(page, many=True).data)
        if stale:
            response[STALE_HEADER] = "true"
        return response


class OrderDetailView(QueryView):
    """GET /api/orders/{id}/: one order with its lines and timeline; ?as_of= for the past."""

    @extend_schema(
        operation_id="get_order",
        parameters=[
            OpenApiParameter(
                "as_of", OpenApiTypes.DATETIME, description="The order as it was at that instant, from the event log."
            ),
            OpenApiParameter(
                "version",
                OpenApiTypes.INT,
                description="The order as it was at that version (1 = as placed), from the event log; "
                "404 past the current version. Not together with `as_of`.",
            ),
            OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description='e.g. "3"'),
            MIN_POSITION,
            STALE,
            OpenApiParameter(
                "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304], description='"<version>"'
            ),
        ],
        responses={200: OrderDetailOut, 304: OpenApiResponse(description="Not modified"), **NOT_FOUND, **QUERY_ERRORS},
        tags=["queries"],
    )
    def get(self, request: Request, order_id: str) -> Response:
        key = path_order_id(order_id)
        raw_as_of = request.query_params.get("as_of")
        as_of = None if raw_as_of is None else parse_instant(raw_as_of, "as_of")
        version = counter_param(request, "version", lowest=1)
        if as_of is not None and version is not None:
            raise exceptions.ValidationError({"version": ["Give either version or as_of, not both."]})
        stale = read_your_writes(request)
        detail = ask(GetOrder(order_id=key, as_of=as_of, version=version))
        if detail is None:
            past = " at that time" if as_of else (" at that version" if version else "")
            raise exceptions.NotFound(f"Order {order_id} does not exist{past}")
        etag = f'"{detail.version}"'
        if not_modified(request, etag):
            response = answer(None, stale, status.HTTP_304_NOT_MODIFIED)
        else:
            response = answer(OrderDetailOut(detail).data, stale)
        response["ETag"] = etag
        return response


class CustomerStatsView(QueryView):
    """GET /api/customers/{customer_id}/stats/."""

    @extend_schema(
        operation_id="customer_stats",
        parameters=[MIN_POSITION, STALE],
        responses={
            200: CustomerStatsOut,
            **problem_responses({404: "No orders for that customer"}),
            **QUERY_ERRORS,
        },
        tags=["queries"],
    )
    def get(self, request: Request, customer_id: str) -> Response:
        stale = read_your_writes(request)
        # A NUL cannot be stored (PostgreSQL refuses it in a query), so no customer has one.
        stats = None if "\x00" in customer_id else ask(GetCustomerStats(customer_id=customer_id))
        if stats is None:
            raise exceptions.NotFound(f"Customer {customer_id} has no orders")
        return answer(CustomerStatsOut(stats).data, stale)
