"""Money as staff read it: the amount to its currency's minor units (2 for EUR, 0 for JPY,
3 for KWD), grouped in thousands, then the code. The one place the admin formats an amount,
so the dashboard, the lists and the order page agree; a sum's extra digits (the database
adds them) never reach the page."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

# ISO 4217's minor units where they are not 2 (the list changes once in years).
MINOR_UNITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),  # noqa: SIM905
    "CLF": 4,
    "UYW": 4,
}


def minor_units(currency: str) -> int:
    """How many decimals the currency's amounts have."""
    return MINOR_UNITS.get(currency, 2)


def format_money(amount: Decimal | int | None, currency: str) -> str:
    """`Decimal("15101.7000000000"), "EUR"` → "15,101.70 EUR"; None → "-"."""
    if amount is None:
        return "-"
    digits = minor_units(currency)
    value = Decimal(amount).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    return f"{value:,.{digits}f} {currency}"
