"""Where an order goes and how it is paid: an Address is well-formed whenever it exists
(every field within its length, the country two capital letters), a new one names a current
ISO 3166-1 alpha-2 country (`check_new_address`), and a payment method is one of the
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

from kernel.errors import InvalidValue

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


# The personal data of an address: who and which street. The postal code, city and country
# stay readable after the customer is forgotten (they name a place, not a person).
PERSONAL_ADDRESS_FIELDS = ("name", "line1", "line2")


def personal_address_fields(*addresses: str) -> tuple[str, ...]:
    """Dotted paths of the personal fields of the named address fields of an event or state."""
    return tuple(f"{address}.{field}" for address in addresses for field in PERSONAL_ADDRESS_FIELDS)


@dataclass(frozen=True, kw_only=True)
class Address:
    """A postal address: who, where, and in which country.

    `name`, `line1` and `line2` are None only in an address read back after its customer
    was forgotten (erased); a new address must have them (`check_new_address`).
    """

    name: str | None
    line1: str | None
    postal_code: str
    city: str
    country: str
    line2: str | None = ""

    def __post_init__(self) -> None:
        if self.name is not None:
            _check_text("name", self.name, NAME_LENGTH)
        if self.line1 is not None:
            _check_text("line1", self.line1, LINE_LENGTH)
        if self.line2 is not None:
            _check_text("line2", self.line2, LINE_LENGTH, required=False)
        _check_text("postal_code", self.postal_code, POSTAL_CODE_LENGTH)
        _check_text("city", self.city, CITY_LENGTH)
        if not _is_code_shaped(self.country):
            raise InvalidValue("country", COUNTRY_MESSAGE)


COUNTRY_MESSAGE = "must be an ISO 3166-1 alpha-2 code like DE"


def check_new_address(address: Address | None) -> None:
    """Raise InvalidValue unless a new address names its recipient and street (only an
    erased one has none) and a country ISO 3166-1 lists today."""
    if address is None:
        return
    if address.name is None:
        raise InvalidValue("name", "is required")
    if address.line1 is None:
        raise InvalidValue("line1", "is required")
    if not is_country(address.country):
        raise InvalidValue("country", COUNTRY_MESSAGE)
