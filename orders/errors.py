"""Errors the write side raises; each names what was wrong so a client can act on it."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error a command can end with; nothing was appended."""


class InvalidValue(DomainError, ValueError):
    """A field of a command is malformed (negative quantity, unknown currency...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class BusinessRuleViolated(DomainError):
    """Valid input that breaks a rule of the order (amount differs from total, > 50 lines)."""


class InvalidTransition(DomainError):
    """The command is not allowed in the order's current status."""


class StockNotReserved(InvalidTransition):
    """The order has tracked lines whose stock is not reserved yet."""


class OrderNotFound(DomainError):
    """No order stream has that id."""


class LineNotFound(DomainError):
    """The order has no line for that SKU."""


class OrderAlreadyExists(DomainError):
    """CreateOrder for an id whose stream already has events."""


class ConcurrencyConflict(DomainError):
    """Another writer appended to the stream first, and retries did not resolve it."""


class VersionMismatch(DomainError):
    """The caller pinned an expected version (If-Match) and the stream is elsewhere."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"Expected version {expected}, but the order is at version {actual}")
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(DomainError):
    """The same command id arrived with a different payload."""
