"""The kinds of error every command can end with; each names what was wrong so a client can
act on it. A context subclasses them for its own rules (orders/errors.py, inventory/errors.py)."""

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
    """Valid input that breaks a rule of the aggregate (an order's amount differs from its total...)."""


class InvalidTransition(DomainError):
    """The command is not allowed in the aggregate's current status."""


class StreamArchived(DomainError):
    """The aggregate's history is in cold storage: it takes no command until it is restored."""


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
