"""Money in each currency's own minor units (ISO 4217, from the iso4217 package): JPY has no
decimals, EUR 2, KWD/BHD/OMR/JOD/TND 3; an amount finer than its currency's minor unit is
refused by the Order aggregate wherever it enters (placing, adding a line, paying), and
amounts are written with exactly the currency's digits. EUR is as it always was."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from kernel.errors import InvalidValue
from kernel.money import ISO_4217, MAX_MINOR_UNITS, Money, amount_text, check_price, minor_units
from orders.commands import LineItem
from orders.domain import Order
from orders.events import OrderCreated, OrderLine


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("TND", 3),
        ("IQD", 3),
        ("LAK", 2),
    ],
)
def test_minor_units_are_iso_4217s(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits


def test_a_code_withdrawn_since_keeps_the_two_decimals_every_amount_had_before() -> None:
    assert minor_units("BGN") == 2  # Bulgaria took the euro: the table no longer lists it
    assert {minor_units(code) for code in ISO_4217} == {0, 2, 3}
    assert MAX_MINOR_UNITS == 3


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("9.99", "EUR", "9.99"),
        ("10", "EUR", "10.00"),
        ("1200", "JPY", "1200"),
        ("1200.00", "JPY", "1200"),
        ("1.25", "KWD", "1.250"),
        ("0.005", "BHD", "0.005"),
    ],
)
def test_amounts_are_written_with_exactly_the_currencys_digits(amount: str, currency: str, text: str) -> None:
    assert amount_text(Decimal(amount), currency) == text
    assert str(Money(Decimal(amount), currency)) == f"{text} {currency}"


@pytest.mark.parametrize(
    ("amount", "currency"), [("12.5", "JPY"), ("1.999", "EUR"), ("1.2345", "KWD"), ("0.001", "USD")]
)
def test_an_amount_finer_than_its_currencys_minor_unit_is_invalid(amount: str, currency: str) -> None:
    with pytest.raises(InvalidValue, match=f"at most {minor_units(currency)} decimal places"):
        check_price(Decimal(amount), currency=currency)


def test_without_a_currency_a_price_may_have_the_most_decimals_of_any() -> None:
    assert check_price(Decimal("1.250")) == Decimal("1.250")
    with pytest.raises(InvalidValue, match="at most 3 decimal places"):
        check_price(Decimal("1.2345"))


def place(currency: str, unit_price: str) -> Order:
    return Order.create(uuid4(), "c-1", currency, (LineItem(sku="A", quantity=2, unit_price=Decimal(unit_price)),))


def test_orders_in_yen_and_dinar_are_priced_in_their_own_units() -> None:
    yen, dinar = place("JPY", "1200"), place("KWD", "1.250")
    assert (str(yen.state.total), str(dinar.state.total)) == ("2400 JPY", "2.500 KWD")
    dinar.add_item("B", 1, Decimal("0.005"))
    assert str(dinar.state.total) == "2.505 KWD"


@pytest.mark.parametrize(("currency", "unit_price"), [("JPY", "1200.5"), ("EUR", "9.999"), ("KWD", "1.2505")])
def test_placing_an_order_finer_than_its_currency_is_refused(currency: str, unit_price: str) -> None:
    with pytest.raises(InvalidValue, match="unit_price"):
        place(currency, unit_price)


def test_the_event_itself_holds_its_lines_to_its_currency() -> None:
    line = OrderLine(sku="A", quantity=1, unit_price=Decimal("0.5"))
    with pytest.raises(InvalidValue, match="at most 0 decimal places"):
        OrderCreated(order_id=uuid4(), customer_id="c-1", currency="JPY", lines=(line,))


def test_adding_a_line_finer_than_the_orders_currency_is_refused() -> None:
    order = place("JPY", "1200")
    order.collect_events()
    with pytest.raises(InvalidValue, match="at most 0 decimal places"):
        order.add_item("B", 1, Decimal("99.5"))
    assert order.collect_events() == []


def test_a_payment_finer_than_the_currency_is_invalid_not_merely_unequal() -> None:
    order = place("JPY", "1200")
    order.confirm()
    with pytest.raises(InvalidValue, match="amount"):
        order.pay("p-1", Decimal("2400.4"))
    assert order.pay("p-1", Decimal("2400.00"))  # the same amount, zeros after the point
