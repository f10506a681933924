"""Money as Decimal with a currency; never float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from writeside.errors import InvalidValue

CENT = Decimal("0.01")

# ISO 4217 active codes. Kept inline: the set changes once in years and a lookup
# library would add a dependency for 180 strings.
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


def check_price(value: Decimal, field: str = "unit_price") -> Decimal:
    """Return a positive price with at most 2 decimals, else raise InvalidValue."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidValue(field, "must be a decimal number")
    if value <= 0:
        raise InvalidValue(field, "must be greater than 0")
    if value != value.quantize(CENT):
        raise InvalidValue(field, "must have at most 2 decimal places")
    if value >= Decimal("1e12"):
        raise InvalidValue(field, "must be less than 1,000,000,000,000")
    return value


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency, kept to the cent."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount.quantize(CENT)} {self.currency}"
