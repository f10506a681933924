"""An order number holds a typed part exactly when the vocabulary's digits of it do or it lies
in the part's range (readmodels/order_numbers.py): the search finds every number holding the
part, and no other, without the number itself in the vocabulary."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from readmodels.order_numbers import digits_of, numbers_holding, order_number
from readmodels.search import words_of

# Parts drawn from the characters of order numbers (and one no number has), as staff type them.
parts = st.text(alphabet="ORDord-0123456789x", min_size=1, max_size=12).map(str.casefold)
positions = st.integers(min_value=0, max_value=10**9)


def found(part: str, number: str) -> bool:
    """What the search finds: the part in the number's digits as the vocabulary has them, or
    the number in the part's range, compared as PostgreSQL's "C" collation does (bytes)."""
    digits = digits_of(number.casefold())
    assert digits is not None
    span = numbers_holding(part)
    in_range = span is not None and span[0].encode() <= number.encode() < span[1].encode()
    return part in digits or in_range


@given(parts, positions)
@example("ord", 42)
@example("d-0", 42)
@example("-00000", 42)
@example("rd-", 0)
@example("0042", 42)
@example("d-00001", 10_000_000)
def test_a_number_is_found_by_exactly_the_parts_it_holds(part: str, position: int) -> None:
    number = order_number(position)
    assert found(part, number) == (part in number.casefold())


def test_the_vocabulary_keeps_an_orders_own_number_by_its_digits() -> None:
    assert words_of("ord-0000042 c-1 lyon") == {"0000042", "c-1", "lyon"}
    # The number again later in the text (a SKU of that name) is a word like any other.
    assert words_of("ord-0000042 ord-0000042 lyon") == {"0000042", "ord-0000042", "lyon"}
    # A first word of another form is kept whole.
    assert words_of("ord-r0000042 lyon") == {"ord-r0000042", "lyon"}
    assert words_of("") == frozenset()


def test_a_part_no_number_holds_names_no_range() -> None:
    assert [numbers_holding(part) for part in ("x-02", "ord-0a", "ord-02-", "o-1", "0234", "ordx")] == [None] * 6
    assert numbers_holding("rd-035") == ("ORD-035", "ORD-036")
    assert numbers_holding("ord") == ("ORD-", "ORD.")
