"""Errors of the order's commands; like every DomainError, nothing was appended."""

from __future__ import annotations

from kernel.errors import DomainError, InvalidTransition


class StockNotReserved(InvalidTransition):
    """The order has tracked lines whose stock is not reserved yet."""


class OrderNotFound(DomainError):
    """No order stream has that id."""


class LineNotFound(DomainError):
    """The order has no line for that SKU."""


class OrderAlreadyExists(DomainError):
    """CreateOrder for an id whose stream already has events."""


class CustomerNotFound(DomainError):
    """No order names that customer, and they were never forgotten."""
