"""Money as staff read it: the currency's minor units, never a sum's extra digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from readmodels.amounts import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("15101.7000000000"), "EUR", "15,101.70 EUR"),
        (Decimal("0"), "EUR", "0.00 EUR"),
        (Decimal("1500.00"), "JPY", "1,500 JPY"),
        (Decimal("2.5"), "KWD", "2.500 KWD"),
        (Decimal("0.005"), "EUR", "0.00 EUR"),  # rounded as Decimal quantizes (half to even)
        (7, "GBP", "7.00 GBP"),
        (None, "EUR", "-"),
    ],
)
def test_amounts_are_shown_to_the_currencys_minor_units(
    amount: Decimal | int | None, currency: str, shown: str
) -> None:
    assert format_money(amount, currency) == shown
