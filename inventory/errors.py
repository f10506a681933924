"""Errors of the inventory's commands; like every DomainError, nothing was appended."""

from __future__ import annotations

from kernel.errors import DomainError


class ProductNotFound(DomainError):
    """No product is registered under that SKU."""


class ProductAlreadyExists(DomainError):
    """RegisterProduct for a SKU that is registered already."""


class StockBelowReserved(DomainError):
    """An adjustment would leave fewer units on hand than are promised to orders."""
