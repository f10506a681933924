"""Money as Decimal with a currency; never float. An amount has at most as many decimals as
its currency's ISO 4217 minor units (JPY 0, EUR 2, KWD 3), and is written with exactly that many.

The minor units come from the `iso4217` package, the ISO 4217 maintenance agency's published
table; a code the table no longer lists (withdrawn since: ANG, BGN) keeps the 2 decimals
every amount had before minor units were known, so orders placed in it still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from iso4217 import Currency

from kernel.errors import InvalidValue

# What every currency had before minor units were known: the digits of a withdrawn code.
WITHDRAWN_MINOR_UNITS = 2

# The ISO 4217 codes an order may be placed in. Kept inline, not read from `iso4217` (which
# gives minor_units below): its table follows ISO's withdrawals, so it has dropped ANG and BGN,
# which orders were placed in and clients still send, and a package upgrade would silently turn
# such requests into 400s; and it lists codes nobody pays in (funds codes BOV/CHE/CLF/..., metals
# XAU/XAG, XDR, test codes XTS/XXX). Which codes the API takes is a decision made here, in one place.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR
    ZMW ZWG
    """.split()  # noqa: SIM905
)


def check_currency(code: str) -> str:
    """Return the code if it is an active ISO 4217 currency, else raise InvalidValue."""
    if code not in ISO_4217:
        raise InvalidValue("currency", f"{code!r} is not an ISO 4217 currency code")
    return code


@cache
def minor_units(currency: str) -> int:
    """How many decimals amounts in `currency` have (ISO 4217: JPY 0, EUR 2, KWD 3)."""
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        exponent = None
    return WITHDRAWN_MINOR_UNITS if exponent is None else exponent


# The most decimals of any accepted currency (3: BHD, IQD, JOD, KWD, LYD, OMR, TND): what an
# amount may have where its currency is not at hand (a line added to an order, a product's price).
MAX_MINOR_UNITS = max(minor_units(code) for code in ISO_4217)


def check_price(value: Decimal, field: str = "unit_price", currency: str | None = None) -> Decimal:
    """Return a positive price with at most the currency's decimals (MAX_MINOR_UNITS when
    none is given), else raise InvalidValue."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidValue(field, "must be a decimal number")
    if value <= 0:
        raise InvalidValue(field, "must be greater than 0")
    digits = MAX_MINOR_UNITS if currency is None else minor_units(currency)
    if value != value.quantize(Decimal(1).scaleb(-digits)):
        where = f" ({currency} has {digits})" if currency is not None and digits != 2 else ""
        raise InvalidValue(field, f"must have at most {digits} decimal places{where}")
    if value >= Decimal("1e12"):
        raise InvalidValue(field, "must be less than 1,000,000,000,000")
    return value


@cache
def _minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount (1 JPY, 0.01 EUR, 0.001 KWD): what its amounts are
    quantized to, made once per currency (every line and timeline entry a projection writes)."""
    return Decimal(1).scaleb(-minor_units(currency))


def in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """The amount with exactly the currency's decimals ("1200" JPY, "9.90" EUR, "1.250" KWD)."""
    return amount.quantize(_minor_unit(currency))


def priced(value: Decimal, currency: str, field: str = "unit_price") -> Decimal:
    """A valid price in `currency` (check_price), written with exactly its minor-unit digits:
    what an event records, whatever digits the request or message wrote it with."""
    return in_minor_units(check_price(value, field, currency), currency)


CATALOG_CENT = Decimal("0.01")


def catalog_price(value: Decimal) -> Decimal:
    """A product price (no currency; check_price allows it MAX_MINOR_UNITS decimals) written
    with 2 decimals, or 3 when the third is not 0 ("9.99", "9.90", "1.125")."""
    cents = value.quantize(CATALOG_CENT)
    return cents if cents == value else value.quantize(Decimal(1).scaleb(-MAX_MINOR_UNITS))


def amount_text(amount: Decimal, currency: str) -> str:
    """The amount as a decimal string with exactly the currency's decimals."""
    return str(in_minor_units(amount, currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency, kept to its minor unit."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{amount_text(self.amount, self.currency)} {self.currency}"
