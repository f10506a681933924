"""GET /api/orders/{id}/history/: an order's events (or its whole story) from the event log,
in bounded pages. Each page holds at most HISTORY_MAX_LIMIT entries however long the
stream or story is, and links the next one, so no request reads or renders without bound."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from readmodels.api.serializers import HistoryOut, StoryOut
from readmodels.api.views import (
    MAX_POSITION,
    MIN_POSITION,
    NOT_FOUND,
    QUERY_ERRORS,
    QueryView,
    min_position,
    path_order_id,
)
from readmodels.queries import GetOrderHistory, GetOrderStory, ask
from readmodels.selectors.history import Page

HISTORY_LIMIT = 100
HISTORY_MAX_LIMIT = 1000
# A stream version is a PostgreSQL integer.
MAX_VERSION = 2**31 - 1
# ASCII digits only: str.isdigit() accepts "²", which int() then refuses.
_DIGITS = re.compile(r"[0-9]{1,19}")

STORY = OpenApiParameter(
    "story",
    OpenApiTypes.BOOL,
    description="`true`: the order's whole story, the events of every stream (products too) that share "
    "a correlation id with the order's events, each with `stream_type` and `stream_id`.",
)
CORRELATION = OpenApiParameter(
    "correlation",
    OpenApiTypes.UUID,
    description="Only the story of this correlation id (one of the order's); implies `story=true`.",
)
AFTER_VERSION = OpenApiParameter(
    "after_version",
    {"type": "integer", "minimum": 0, "maximum": MAX_VERSION},
    description="The order's history: the events after this version (default 0).",
)
AFTER_POSITION = OpenApiParameter(
    "after_position",
    {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_POSITION},
    description="The story: the events after this global position (default 0).",
)
LIMIT = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": HISTORY_MAX_LIMIT},
    description=f"At most this many events (1 to {HISTORY_MAX_LIMIT}; default {HISTORY_LIMIT}). "
    "`next` links the page after, null on the last one.",
)
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def story_options(request: Request) -> tuple[bool, UUID | None]:
    """?story= and ?correlation=, validated (400 unless a boolean and a UUID)."""
    raw_story = request.query_params.get("story", "false").lower()
    if raw_story not in _TRUE | _FALSE:
        raise exceptions.ValidationError({"story": ["Must be true or false."]})
    raw_correlation = request.query_params.get("correlation")
    if raw_correlation is None:
        return raw_story in _TRUE, None
    try:
        return True, UUID(raw_correlation)
    except ValueError:
        raise exceptions.ValidationError({"correlation": ["Must be a UUID."]}) from None


def bounded_int(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter, `default` if absent (400 unless ASCII digits in range)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise exceptions.ValidationError({name: [f"Must be an integer from {minimum} to {maximum}."]})
    return int(raw)


def cursor(request: Request, story: bool) -> tuple[str, int]:
    """The page's cursor parameter and value: `after_position` for a story (positions order
    events across streams), `after_version` for the order's own stream; the other is a 400."""
    name, other, maximum = ("after_position", "after_version", MAX_POSITION)
    if not story:
        name, other, maximum = ("after_version", "after_position", MAX_VERSION)
    if other in request.query_params:
        raise exceptions.ValidationError({other: [f"Not with story={str(story).lower()}; use {name}."]})
    return name, bounded_int(request, name, default=0, minimum=0, maximum=maximum)


def paged(request: Request, cursor_name: str, page: Page[Any]) -> dict[str, Any]:
    """The page's entries and the absolute URL of the next page (None on the last)."""
    url = request.build_absolute_uri()
    following = None if page.next_after is None else replace_query_param(url, cursor_name, page.next_after)
    return {"results": page.results, "next": following}


class OrderHistoryView(QueryView):
    """GET /api/orders/{id}/history/: the order's events from the log, oldest first
    (?story=true or ?correlation=: across every stream of its story), a page at a time."""

    @extend_schema(
        operation_id="order_history",
        parameters=[MIN_POSITION, STORY, CORRELATION, AFTER_VERSION, AFTER_POSITION, LIMIT],
        responses={
            200: PolymorphicProxySerializer(
                component_name="HistoryOrStory", serializers=[HistoryOut, StoryOut], resource_type_field_name=None
            ),
            **NOT_FOUND,
            **QUERY_ERRORS,
        },
        tags=["queries"],
    )
    def get(self, request: Request, order_id: str) -> Response:
        # The event log is the source here, so min_position is always met: validated, never waited on.
        min_position(request)
        story, correlation = story_options(request)
        cursor_name, after = cursor(request, story)
        limit = bounded_int(request, "limit", default=HISTORY_LIMIT, minimum=1, maximum=HISTORY_MAX_LIMIT)
        key = path_order_id(order_id)
        if story:
            entries = ask(GetOrderStory(order_id=key, correlation=correlation, after_position=after, limit=limit))
            if entries is None:
                detail = f" with correlation id {correlation}" if correlation else ""
                raise exceptions.NotFound(f"Order {order_id} has no events{detail}")
            return Response(StoryOut(paged(request, cursor_name, entries)).data)
        events = ask(GetOrderHistory(order_id=key, after_version=after, limit=limit))
        if events is None:
            raise exceptions.NotFound(f"Order {order_id} does not exist")
        return Response(HistoryOut(paged(request, cursor_name, events)).data)
