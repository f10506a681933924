"""Where an order goes and how it is paid: an Address is well-formed whenever it exists
(every field within its length, the country two capital letters), a new one names a current
ISO 3166-1 alpha-2 country (`check_current_country`), and a payment method is one of the
few the back office knows.

Country codes come from pycountry (the ISO 3166 database, kept in step with ISO), not from
a list of our own. Only new addresses are held to the current list: ISO withdraws codes
(AN, CS), and an address stored under one must still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeGuard

import pycountry

from writeside.errors import InvalidValue

# Field lengths; the API's serializer and the read model use the same limits.
NAME_LENGTH = 200
LINE_LENGTH = 200
POSTAL_CODE_LENGTH = 20
CITY_LENGTH = 100


class PaymentMethod(StrEnum):
    """How the customer pays."""

    CARD = "card"
    INVOICE = "invoice"
    BANK_TRANSFER = "bank_transfer"


def _is_code_shaped(code: object) -> TypeGuard[str]:
    return isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


def is_country(code: object) -> bool:
    """True if `code` is a current ISO 3166-1 alpha-2 code, in capitals ("DE", not "de")."""
    return _is_code_shaped(code) and pycountry.countries.get(alpha_2=code) is not None


def _check_text(field: str, value: object, max_length: int, *, required: bool = True) -> None:
    if not isinstance(value, str) or len(value) > max_length or (required and not value.strip()):
        blank = ", not blank" if required else ""
        raise InvalidValue(field, f"must be {'1' if required else '0'} to {max_length} characters{blank}")


@dataclass(frozen=True, kw_only=True)
class Address:
    """A postal address: who, where, and in which country."""

    name: str
    line1: str
    postal_code: str
    city: str
    country: str
    line2: str = ""

    def __post_init__(self) -> None:
        _check_text("name", self.name, NAME_LENGTH)
        _check_text("line1", self.line1, LINE_LENGTH)
        _check_text("line2", self.line2, LINE_LENGTH, required=False)
        _check_text("postal_code", self.postal_code, POSTAL_CODE_LENGTH)
        _check_text("city", self.city, CITY_LENGTH)
        if not _is_code_shaped(self.country):
            raise InvalidValue("country", COUNTRY_MESSAGE)


COUNTRY_MESSAGE = "must be an ISO 3166-1 alpha-2 code like DE"


def check_current_country(address: Address | None) -> None:
    """Raise InvalidValue unless a new address names a country ISO 3166-1 lists today."""
    if address is not None and not is_country(address.country):
        raise InvalidValue("country", COUNTRY_MESSAGE)
