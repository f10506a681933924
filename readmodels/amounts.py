"""Money as staff read it: the amount to its currency's ISO 4217 minor units (2 for EUR, 0
for JPY, 3 for KWD; kernel/money.py says how many), grouped in thousands, then the code.
The one place the admin formats an amount, so the dashboard, the lists and the order page
agree; a sum's extra digits (the database adds them) never reach the page."""

from __future__ import annotations

from decimal import Decimal

from kernel.money import in_minor_units, minor_units


def format_money(amount: Decimal | int | None, currency: str) -> str:
    """`Decimal("15101.7000000000"), "EUR"` → "15,101.70 EUR"; None → "-"."""
    if amount is None:
        return "-"
    return f"{in_minor_units(Decimal(amount), currency):,.{minor_units(currency)}f} {currency}"
