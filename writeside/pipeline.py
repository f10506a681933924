"""The command pipeline's shapes: what a command middleware receives, and how an outcome is named.

A middleware is `middleware(dispatch, call_next) -> CommandResult`: it may act before and
after `call_next(dispatch)` and sees any exception the command ends with (it must re-raise
it). The chain is named in settings.COMMAND_MIDDLEWARE, outermost first, and run by the one
chain both buses share (pipeline/chain.py); what is here is the command's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel.errors import ConcurrencyConflict, DomainError, IdempotencyKeyReused, VersionMismatch
from writeside.commands import Command
from writeside.unit_of_work import CommandResult, Companion

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
