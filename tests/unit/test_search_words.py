"""The order search's text as its trigram index sees it (readmodels/search.py): each character
joining an identifier's parts becomes one letter, and the query's expression is the very one
migration 0016 indexes (else PostgreSQL could not use the index)."""

from __future__ import annotations

from importlib import import_module

from readmodels.search import JOINER_LETTER, WORD_JOINERS, joined, search_words
from readmodels.selectors.order_search import JoinedSearchText


def test_joiners_become_the_letter_and_nothing_else_changes() -> None:
    assert joined("ada.lovelace@ex-1") == "adaqlovelaceqexq1"
    assert joined("ord-0000042 first_last@x") == "ordq0000042 firstqlastqx"
    assert joined("o'brien/köln+3") == "o'brien/köln+3"
    assert joined("düsseldorf") == "düsseldorf"
    assert all(joined(joiner) == JOINER_LETTER for joiner in WORD_JOINERS)


def test_the_querys_expression_is_the_indexed_one() -> None:
    migration = import_module("readmodels.migrations.0016_search_indexes")
    assert JoinedSearchText.template % {"expressions": "search_text"} == migration.JOINED


def test_words_are_case_folded_and_kept_once_in_order() -> None:
    assert search_words("  Ada-7  STRASSE ada-7 Straße ") == ["ada-7", "strasse"]
