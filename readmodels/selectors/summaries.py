"""One row of the order list as the queries answer it: its fields and its DTO, shared by the
list (selectors/orders.py) and the search (selectors/order_search.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from readmodels.projections.order_view import SUMMARY_FIELDS as VIEW_SUMMARY_FIELDS

# The row's own key, then the fields the `orders` projection copies into it from the order's view.
SUMMARY_FIELDS = ("order_id", *VIEW_SUMMARY_FIELDS)
# Whose order it is, on list rows; on the detail they come from its e-mail and shipping address.
CUSTOMER_FIELDS = ("customer_name", "customer_email")


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderSummaryDTO:
    """One row of the order list."""

    order_id: UUID
    order_number: str
    customer_id: str
    status: str
    item_count: int
    total_amount: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
    version: int
    # The shipping address's name and the e-mail; None when the order has none or once the
    # customer was forgotten.
    customer_name: str | None
    customer_email: str | None
    # What the shop still owes the customer back, and what it has paid back.
    refund_due: Decimal
    refunded: Decimal


def summary_dto(row: dict[str, Any]) -> OrderSummaryDTO:
    return OrderSummaryDTO(
        **{field: row[field] for field in SUMMARY_FIELDS},
        customer_name=row["customer_name"] or None,
        customer_email=row["customer_email"] or None,
    )
