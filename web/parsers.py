"""JSON request bodies parsed with a bound on nesting.

A body nested deeper than API_MAX_JSON_DEPTH is a client error (400 problem+json), never a
RecursionError: Python's parser recurses once per level, and nothing the API accepts nests
more than a few levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def nesting_depth(value: Any, limit: int) -> int:
    """How deep `value` nests (a scalar is 0), counting no further than `limit` + 1."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        pending.extend((child, depth) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than API_MAX_JSON_DEPTH."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        """The parsed body; ParseError (400) if malformed or too deep."""
        limit = int(settings.API_MAX_JSON_DEPTH)
        too_deep = ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if nesting_depth(data, limit) > limit:
            raise too_deep
        return data
