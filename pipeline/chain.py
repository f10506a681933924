"""One middleware chain for every bus: a message passes each middleware, outermost first, to the
core and its answer passes back, so the command bus and the query bus wrap their cores the same way.

A middleware is `middleware(message, call_next) -> answer`: it may act before and after
`call_next(message)` and sees any exception the core ends with (it must re-raise it). What a
message and an answer are is the bus's own: the command bus's in writeside/pipeline.py, the
query bus's in readmodels/queries.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce
from typing import TypeVar

Message = TypeVar("Message")
Answer = TypeVar("Answer")


def chain(
    middleware: Sequence[Callable[[Message, Callable[[Message], Answer]], Answer]],
    core: Callable[[Message], Answer],
) -> Callable[[Message], Answer]:
    """`core` wrapped in `middleware`, the first outermost (it sees the message first and the
    answer last). The command bus and the query bus both dispatch through one of these."""

    def wrap(
        inner: Callable[[Message], Answer], outer: Callable[[Message, Callable[[Message], Answer]], Answer]
    ) -> Callable[[Message], Answer]:
        return lambda message: outer(message, inner)

    return reduce(wrap, reversed(middleware), core)


def configured_middleware(setting: str) -> list[Callable[..., object]]:
    """The middleware a setting names (dotted paths, outermost first), imported."""
    # Imported here: the chain itself needs no framework, only reading it from settings does.
    from django.conf import settings
    from django.utils.module_loading import import_string

    return [import_string(path) for path in getattr(settings, setting, [])]
