"""The demo shop's people and goods: customers with names, e-mails and addresses, and a
catalog of products with prices and the stock that arrives before the first order. Plain
data (the runtime has no fake-data library); every name is invented."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from orders.addresses import Address, PaymentMethod


@dataclass(frozen=True, kw_only=True)
class Customer:
    customer_id: str
    name: str
    email: str
    address: Address
    payment_method: PaymentMethod


@dataclass(frozen=True, kw_only=True)
class Product:
    sku: str
    name: str
    price: Decimal
    stock: int


FIRST_NAMES = [
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannah", "Ida", "Jonas", "Karl", "Lena",
    "Marta", "Noah", "Olga", "Paul", "Rosa", "Sami", "Tilda", "Ugo", "Vera", "Wim", "Yara", "Zoe",
]  # fmt: skip
LAST_NAMES = [
    "Albers", "Becker", "Costa", "Dijkstra", "Engel", "Fischer", "Garcia", "Hansen", "Ivanova", "Jansen",
    "Keller", "Lehmann", "Moreau", "Nowak", "Olsen", "Peters", "Quint", "Richter", "Schmidt", "Vogel",
]  # fmt: skip
# (street, postal code, city, country)
PLACES = [
    ("Lindenstraße", "10969", "Berlin", "DE"), ("Schanzenstraße", "20357", "Hamburg", "DE"),
    ("Ehrenfeldgürtel", "50823", "Köln", "DE"), ("Sendlinger Straße", "80331", "München", "DE"),
    ("Königstraße", "70173", "Stuttgart", "DE"), ("Prinsengracht", "1015 DV", "Amsterdam", "NL"),
    ("Mariahilfer Straße", "1070", "Wien", "AT"), ("Rue de la Roquette", "75011", "Paris", "FR"),
    ("Bahnhofstrasse", "8001", "Zürich", "CH"), ("Nørrebrogade", "2200", "København", "DK"),
    ("Calle de Atocha", "28012", "Madrid", "ES"), ("Via del Corso", "00186", "Roma", "IT"),
]  # fmt: skip
CATALOG = [
    Product(sku="TEA-ASSAM", name="Assam tea, 250 g", price=Decimal("8.90"), stock=400),
    Product(sku="TEA-SENCHA", name="Sencha green tea, 100 g", price=Decimal("12.50"), stock=300),
    Product(sku="TEA-EARL", name="Earl Grey, 250 g", price=Decimal("9.40"), stock=350),
    Product(sku="TEA-ROOIBOS", name="Rooibos vanilla, 200 g", price=Decimal("7.80"), stock=250),
    Product(sku="COF-ESPRESSO", name="Espresso beans, 1 kg", price=Decimal("24.90"), stock=300),
    Product(sku="COF-FILTER", name="Filter coffee, 500 g", price=Decimal("11.90"), stock=300),
    Product(sku="CUP-STONE", name="Stoneware cup", price=Decimal("14.00"), stock=200),
    Product(sku="POT-CAST", name="Cast-iron teapot, 0.8 l", price=Decimal("59.00"), stock=80),
    Product(sku="KETTLE-GOOSE", name="Gooseneck kettle", price=Decimal("79.90"), stock=60),
    Product(sku="GRINDER-HAND", name="Hand coffee grinder", price=Decimal("129.00"), stock=50),
    Product(sku="FILTER-PAPER", name="Paper filters, 100 pcs", price=Decimal("4.50"), stock=600),
    Product(sku="SCALE-DRIP", name="Drip scale with timer", price=Decimal("39.00"), stock=70),
]


def customers(count: int, rng: random.Random) -> list[Customer]:
    """`count` customers, each with a name, an e-mail made from it, an address and a way to pay."""
    made = []
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        street, postal_code, city, country = rng.choice(PLACES)
        made.append(
            Customer(
                customer_id=f"cust-{number:04d}",
                name=f"{first} {last}",
                email=f"{first}.{last}{number}@example.com".lower(),
                address=Address(
                    name=f"{first} {last}",
                    line1=f"{street} {rng.randint(1, 120)}",
                    postal_code=postal_code,
                    city=city,
                    country=country,
                ),
                payment_method=rng.choice(list(PaymentMethod)),
            )
        )
    return made
