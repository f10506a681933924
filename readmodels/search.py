"""What the order search matches, in one place for the projection, the API and the admin.

Each order's summary row carries `search_text`: its order number, customer id and e-mail,
the SKUs on it and its shipping name and city, case-folded and joined by spaces. The
`orders` projection writes it from the order's view, so a rebuild writes the same text.
A search splits the staff's text into words and keeps the orders whose text contains every
word (partial words match); each word is a plain `LIKE '%word%'` over the column. On
PostgreSQL a pg_trgm GIN index finds the candidates first, over the text with the characters
that join parts of one identifier (WORD_JOINERS: `-` in `ORD-0000042`, `@` and `.` in an
e-mail) replaced by a letter: pg_trgm splits words at every other character, so `c-0` would
be looked up as the words `c` and `0`, which nearly every order has, and each of those rows
read to be rechecked. That is only a narrower candidate set: the match is still the `LIKE`
on the text itself. A search's count is exact up to SEARCH_COUNT_LIMIT matches and a lower
bound beyond. Nothing here imports Django models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from readmodels.order_numbers import digits_of

# Words of one search: more add nothing a person types, and each costs an index probe.
MAX_SEARCH_WORDS = 8
MAX_SEARCH_LENGTH = 200
# A search counts its matches exactly up to this many, then answers "at least this many"
# (`count_exact` false) and pages through these first ones: counting every match of a common
# word is what made a search slow, and nobody pages through more.
SEARCH_COUNT_LIMIT = 1000
# Characters that join the parts of one identifier (order numbers, SKUs, customer ids,
# e-mails), and the letter pg_trgm's index sees instead of each. Migration 0016 indexes exactly
# this replacement, one `replace()` per character (PostgreSQL's `translate()` costs about 20
# times as much per row, and every candidate row computes it again): change both together.
WORD_JOINERS = "-._@"
JOINER_LETTER = "q"
_JOINED = str.maketrans(WORD_JOINERS, JOINER_LETTER * len(WORD_JOINERS))


def fold(text: str) -> str:
    """Text as the search compares it: case-folded ("Straße" and "STRASSE" are alike)."""
    return text.casefold()


def search_text(view: Mapping[str, Any]) -> str:
    """The text an order is found by, from the `orders` projection's view of it."""
    shipping = view.get("shipping_address") or {}
    parts = [
        view["order_number"],
        view["customer_id"],
        view.get("customer_email") or "",
        *(line["sku"] for line in view["lines"]),
        shipping.get("name", ""),
        shipping.get("city", ""),
    ]
    # Words separated by single spaces, whatever spaces a name or city held: splitting the
    # text at spaces (in the database too, projections/search_words.py) gives `words_of`.
    return " ".join(fold(" ".join(part for part in parts if part)).split())


def words_of(text: str) -> frozenset[str]:
    """The words an order is found by through the vocabulary
    (readmodels/projections/search_words.py): its search text's words, its own order number
    (the text's first word) as its digits alone. A search's word matches an order when it is
    part of one of them or the order's number is in the word's range
    (readmodels/order_numbers.py `numbers_holding`): the vocabulary's trigram look-ups never
    meet the `ord-` every order number holds, which made a part of one (`ord-02`) look at
    every order."""
    number, *rest = text.split() or [""]
    return frozenset([digits_of(number) or number, *rest]) - {""}


def search_words(text: str) -> list[str]:
    """The words of a search, case-folded, each at most once, in the order typed."""
    return list(dict.fromkeys(fold(text).split()))


def joined(word: str) -> str:
    """`word` as the trigram index sees it: each WORD_JOINERS character replaced by the
    letter, so that the index looks up the identifier's parts as one word."""
    return word.translate(_JOINED)


def joined_sql(column: str) -> str:
    """SQL of `column` with each WORD_JOINERS character replaced by JOINER_LETTER: the
    expression the trigram indexes are built over (migrations 0016 and 0017)."""
    for joiner in WORD_JOINERS:
        column = f"replace({column}, '{joiner}', '{JOINER_LETTER}')"
    return column
