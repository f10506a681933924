"""The query bus is typed end to end: each query names its answer's type, each query type
has one handler declaring that very answer, and the middleware passes the answer on unchanged."""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from readmodels import queries
from readmodels.queries import HANDLERS, Query, QueryBus, QueryHandlers


def _answer_type(query_type: type[Query[object]]) -> object:
    (base,) = (base for base in vars(query_type)["__orig_bases__"] if typing.get_origin(base) is Query)
    return typing.get_args(base)[0]


def test_every_query_has_one_handler_answering_its_type() -> None:
    handled = dict(HANDLERS.items())
    # The module's own query classes (a slotted dataclass leaves its first, unslotted class behind).
    declared_queries = {
        query_type
        for query_type in Query.__subclasses__()
        if query_type.__module__ == queries.__name__ and getattr(queries, query_type.__name__) is query_type
    }
    assert set(handled) == declared_queries
    for query_type, handler in handled.items():
        declared = typing.get_type_hints(handler, vars(queries))["return"]
        assert declared == _answer_type(query_type), query_type.__name__


@dataclass(frozen=True, kw_only=True, slots=True)
class Echo(Query[str]):
    """A query no read model answers."""

    word: str


def test_a_second_handler_for_a_query_is_refused() -> None:
    handlers = QueryHandlers().add(Echo, lambda query: query.word)
    with pytest.raises(RuntimeError, match="Echo has a handler already"):
        handlers.add(Echo, lambda query: query.word.upper())


def test_the_middleware_sees_the_query_and_passes_the_answer_on() -> None:
    seen: list[tuple[Query[object], object]] = []

    def record(query: Query[object], call_next: Callable[[Query[object]], object]) -> object:
        answer = call_next(query)
        seen.append((query, answer))
        return answer

    bus = QueryBus(QueryHandlers().add(Echo, lambda query: query.word * 2), middleware=[record])
    asked = Echo(word="ab")

    assert bus.ask(asked) == "abab"
    assert seen == [(asked, "abab")]
