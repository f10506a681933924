"""The command pipeline's shapes: what a middleware receives, and how an outcome is named.

A middleware is `middleware(dispatch, call_next) -> CommandResult`: it may act before and
after `call_next(dispatch)` and sees any exception the command ends with (it must re-raise
it). The chain is named in settings.COMMAND_MIDDLEWARE, outermost first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, TypeVar

from writeside.commands import Command
from writeside.errors import ConcurrencyConflict, DomainError, IdempotencyKeyReused, VersionMismatch
from writeside.unit_of_work import CommandResult, Companion

Message = TypeVar("Message")
Answer = TypeVar("Answer")

COMMITTED, DUPLICATE, REFUSED, CONFLICT, FAILED = "committed", "duplicate", "refused", "conflict", "failed"


@dataclass(slots=True)
class Dispatch:
    """One command on its way through the bus; the core marks a repeat as `duplicate`.

    `in_transaction` holds the rows a middleware asks to be written in the command's own
    transaction once its result is known (the audit row, writeside.unit_of_work.Companion): it
    then commits with the command's events and record, or rolls back with them, without a
    commit of its own.
    """

    command: Command
    command_type: str
    duplicate: bool = False
    in_transaction: list[Companion] = field(default_factory=list)
    # The command's `payload` (writeside.bus.dispatch_payload), once something has asked for it.
    payload: dict[str, Any] | None = None


Next = Callable[[Dispatch], CommandResult]
Middleware = Callable[[Dispatch, Next], CommandResult]


def outcome(dispatch: Dispatch, error: BaseException | None) -> str:
    """committed or duplicate (a repeated command id), refused (a rule or bad input: the
    client's to fix), conflict (concurrent writers, or a pinned version that moved), failed
    (anything else: ours to fix)."""
    if error is None:
        return DUPLICATE if dispatch.duplicate else COMMITTED
    if isinstance(error, (ConcurrencyConflict, VersionMismatch)):
        return CONFLICT
    if isinstance(error, (DomainError, IdempotencyKeyReused)):
        return REFUSED
    return FAILED


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


def configured_middleware(setting: str = "COMMAND_MIDDLEWARE") -> list[Callable[..., object]]:
    """The middleware a setting names, imported."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    return [import_string(path) for path in getattr(settings, setting, [])]
