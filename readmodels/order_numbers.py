"""Order numbers: their one form, and which of them a search's typed part is found in.

An order's number is PREFIX and the position of its first event in the log, at least DIGITS
digits (`ORD-0000042`): fixed when the order is created, unique, and the same in a rebuild.

The guarantee a search relies on (readmodels/selectors/word_search.py): an order number holds
a typed part exactly when either the part is all digits and the number's digits hold it
(`digits_of`, which the vocabulary keeps for each number, readmodels/search.py `words_of`),
or the number lies in `numbers_holding`'s range, compared byte by byte (the order list's
number column is `COLLATE "C"` on PostgreSQL, migration 0019). So no number needs its
`ord-` in the vocabulary, where every trigram look-up of a part holding it met every order.
Nothing here imports Django.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "ORD-"
DIGITS: Final = 7
# The prefix as a search text holds it (case-folded), and its letters before the dash.
FOLDED_PREFIX: Final = PREFIX.casefold()
_LETTERS: Final = FOLDED_PREFIX[:-1]


def order_number(position: int) -> str:
    """Human order number, fixed by the position of the order's first event."""
    return f"{PREFIX}{position:0{DIGITS}d}"


def digits_of(word: str) -> str | None:
    """The digits of `word` when it is an order number as a search text holds it
    (case-folded), else None."""
    if word.startswith(FOLDED_PREFIX):
        digits = word[len(FOLDED_PREFIX) :]
        if _ascii_digits(digits):
            return digits
    return None


def numbers_holding(part: str) -> tuple[str, str] | None:
    """The order numbers holding the case-folded `part` other than in their digits alone: the
    range [low, high) of every number from `low` up to, not including, `high`, in byte order
    (the numbers starting with `low`). None when no number holds it that way: it holds a
    character no number has, or it is all digits (those are the vocabulary's to find).

    A part without the dash is in the letters (`ord`: every number); a part with it has a tail
    of the letters before it and the start of the digits after it (`d-004`: the numbers
    starting `ORD-004`)."""
    letters, dash, digits = part.partition("-")
    if not dash:
        return _starting(PREFIX) if part and part in _LETTERS else None
    if not _LETTERS.endswith(letters) or (digits and not _ascii_digits(digits)):
        return None
    return _starting(PREFIX + digits)


def _starting(low: str) -> tuple[str, str]:
    """The byte-order range of the strings starting with `low` (none of them ends in the
    highest character; an order number's last is a digit or the dash)."""
    return low, low[:-1] + chr(ord(low[-1]) + 1)


def _ascii_digits(text: str) -> bool:
    """`text` is one or more of 0-9 (`str.isdigit` takes other scripts' digits too)."""
    return text.isascii() and text.isdigit()
