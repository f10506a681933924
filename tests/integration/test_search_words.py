"""The search's vocabulary on PostgreSQL (readmodels/projections/search_words.py,
readmodels/selectors/word_search.py): the words follow every order's search text through
creation, address changes and forgetting; a one-word search through them answers exactly as
the summaries' scan, in every branch (counted, past the limit, paged, handed back); and a
word deleted with its last posting never goes while another partition adds a posting of it."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from django.db import connections, transaction

from orders.commands import ForgetCustomer
from projector.loop import read_database
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderSummary, SearchPosting, SearchWord
from readmodels.order_numbers import numbers_holding
from readmodels.projections.search_words import write_words
from readmodels.search import SEARCH_COUNT_LIMIT, words_of
from readmodels.selectors import order_search, word_search
from readmodels.selectors.order_search import WalkedMatches, WordPages, matching
from readmodels.selectors.word_search import NEWEST_FIRST, OverLimit, newest_first
from tests.factories import AddressFactory, ChangeShippingAddressFactory, CreateOrderFactory, OrderSummaryRowFactory
from tests.support.read_side import read_models
from tests.support.search_rows import summary_rows, with_words
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def words_follow_the_summaries() -> None:
    """Every order's postings are its search text's words; the vocabulary, the postings' words."""
    using = read_database()
    expected = {
        (order_id, word)
        for order_id, text in OrderSummary.objects.using(using).values_list("order_id", "search_text")
        for word in words_of(text)
    }
    assert set(SearchPosting.objects.using(using).values_list("order_id", "word")) == expected
    assert set(SearchWord.objects.using(using).values_list("word", flat=True)) == {word for _, word in expected}


def test_the_words_follow_orders_through_addresses_and_forgetting(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    ada = CreateOrderFactory(customer_id="c-ada", shipping_address=AddressFactory(name="Ada Byron", city="Oxford"))
    namesake = CreateOrderFactory(customer_id="c-ada-2", shipping_address=AddressFactory(name="Ada Byron", city="Bath"))
    assert "byron" in words_of(ada.shipping_address.name.casefold())
    for create in (ada, namesake):
        handle(create)
    words_follow_the_summaries()
    handle(ChangeShippingAddressFactory(order_id=ada.order_id, shipping_address=AddressFactory(city="Kirkby")))
    words_follow_the_summaries()
    assert not SearchWord.objects.filter(word="oxford").exists()  # no order holds it now
    handle(ForgetCustomer(customer_id="c-ada-2"))
    words_follow_the_summaries()
    # The address's name is forgotten (its city is not): no order names "byron" now.
    assert not SearchWord.objects.filter(word="byron").exists()
    assert newest_first(read_database(), "kirkby") == [str(ada.order_id)]


def test_a_rebuild_writes_the_words_live_projection_wrote(settings: Any) -> None:
    """A rebuild leaves the words to one statement after its load (`fill_words`), which
    splits the search text at spaces in the database: a name with other spaces in it gives
    the words Python's split gives live, and a word the text holds twice (a name that is also
    the city) one posting."""
    settings.PROJECTIONS_INLINE = True
    spaced = AddressFactory(name="Ana  María\u00a0Ölund", city="Sankt\u2003Peter")
    handle(CreateOrderFactory(customer_id="c-spaced", shipping_address=spaced))
    handle(CreateOrderFactory(customer_id="c-twice", shipping_address=AddressFactory(name="Lyon", city="Lyon")))
    assert OrderSummary.objects.get(customer_id="c-twice").search_text.split().count("lyon") == 2
    handle(CreateOrderFactory(customer_id="c-plain"))
    assert {"ana", "maría", "ölund", "sankt", "peter"} <= set(SearchWord.objects.values_list("word", flat=True))
    live = read_models()
    rebuild_by_name(["orders"])
    assert read_models() == live
    words_follow_the_summaries()


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Limits small enough that a few dozen rows reach every branch of the word search."""
    for module in (order_search, word_search):
        monkeypatch.setattr(module, "SEARCH_COUNT_LIMIT", 6)
    monkeypatch.setattr(word_search, "MAX_POSTINGS", 9)
    monkeypatch.setattr(word_search, "MAX_WORDS", 4)
    monkeypatch.setattr(word_search, "PAGE_BUDGET", 12)
    monkeypatch.setattr(order_search, "WALK_REACH", 5)


@pytest.fixture
def range_pages(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for each page a search past the limit reads from the postings, whether a
    range of order numbers was read with them (the real reading runs, after this)."""
    ranged: list[bool] = []
    reading = word_search.page_of

    def recorded(using: str, over: OverLimit, offset: int, limit: int) -> list[UUID] | None:
        ranged.append(over.numbers is not None)
        return reading(using, over, offset, limit)

    monkeypatch.setattr(order_search, "page_of", recorded)
    return ranged


def scanned(text: str, offset: int, limit: int) -> tuple[list[UUID], bool]:
    """A page and exactness as the summaries' scan answers them (the reference)."""
    summaries = OrderSummary.objects.using(read_database()).all()
    ids = order_search._sorted_matches(matching(summaries, text), NEWEST_FIRST)
    if ids is None:
        return WalkedMatches(summaries, text, NEWEST_FIRST)._page_ids(offset, limit), False
    return [UUID(order_id) for order_id in ids[offset : offset + limit]], True


def typed_parts(texts: list[str], rng: random.Random) -> Iterator[str]:
    """Parts of words as staff type them, and a few that match nothing; and parts of order
    numbers holding their dash, from the whole number down to its letters."""
    words = sorted({word for text in texts for word in text.split()})
    for _ in range(150):
        word = rng.choice(words)
        start = rng.randrange(len(word))
        yield word[start : start + rng.randint(1, 6)]
    yield from ("zzz", "x-", "-")
    number = texts[0].split()[0]
    yield from (number[start:stop] for start in (0, 2) for stop in (len(number), len(number) - 1, 6, 4))
    yield from ("ord", number[4:])


@pytest.mark.usefixtures("small_limits")
def test_a_one_word_search_through_the_vocabulary_answers_as_the_summaries_scan(range_pages: list[bool]) -> None:
    rng = random.Random(7)
    pool = ["red-1", "red-2", "blue", "blue-x", "green", "grey", "ruby", "rust"]
    rows = OrderSummaryRowFactory.build_batch(40)
    for row in rows:
        row.search_text = " ".join([row.order_number.casefold(), *rng.sample(pool, rng.randint(1, 3))])
    # Another order's number as a word of its own (a SKU of that name): found as a word.
    rows[5].search_text += f" {rows[30].order_number.casefold()}"
    made = with_words(OrderSummary.objects.bulk_create(rows))
    branches: set[str] = set()
    for text in typed_parts([row.search_text for row in made], rng):
        answer = newest_first(read_database(), text)
        if answer is None:
            branches.add("handed back")
            continue
        if numbers_holding(text) is not None:
            branches.add(f"numbers {'past the limit' if isinstance(answer, OverLimit) else 'counted'}")
        found: Any = order_search.searched(OrderSummary.objects.all(), text, NEWEST_FIRST)
        assert not isinstance(found, WalkedMatches), text  # the vocabulary answered
        read_before = len(range_pages)
        for offset in range(0, 8, 3):
            page = found._page_ids(offset, 3)
            assert (page, found.count_exact) == scanned(text, offset, 3), (text, offset)
        if isinstance(answer, OverLimit) and answer.numbers is not None:
            # Each of the three pages walked WALK_REACH rows or read the range and sorted it.
            sorted_pages = range_pages[read_before:].count(True)
            branches.update({"range walked"} if sorted_pages < 3 else set())
            branches.update({"range sorted"} if sorted_pages else set())
        if isinstance(answer, OverLimit):
            pages = [word_search.page_of(read_database(), answer, offset, 3) for offset in range(0, 8, 3)]
            branches.add("past the limit, " + ("walked" if None in pages else "merged"))
            branches.add("one word" if len(answer.words) == 1 else "several words")
        else:
            branches.add("counted")
    assert branches >= {
        "handed back",
        "counted",
        "numbers counted",
        "numbers past the limit",
        "range walked",
        "range sorted",
        "past the limit, merged",
        "past the limit, walked",
        "one word",
        "several words",
    }


def test_past_the_limit_the_pages_reach_the_newest_matches_by_the_postings() -> None:
    common = summary_rows(SEARCH_COUNT_LIMIT + 30, word="sprocket-a")
    also = summary_rows(20, word="sprocket-b")
    found: Any = order_search.searched(OrderSummary.objects.all(), "sprocket", NEWEST_FIRST)
    assert isinstance(found, WordPages)
    newest = [row.order_id for row in reversed(common + also)]
    assert [row.order_id for row in found[0:50]] == newest[:50]
    assert [row.order_id for row in found[950:1000]] == newest[950:1000]


def test_a_word_losing_its_last_posting_stays_while_another_partition_adds_one() -> None:
    """The forgetting (or an address change) deletes a word no committed posting holds; a
    batch in another partition adding a posting of it meanwhile holds the vocabulary lock
    shared, so the deletion waits for it and then keeps the word."""
    using = read_database()
    (leaving,) = summary_rows(1, word="zebra")
    arriving = OrderSummaryRowFactory.build(word="zebra")
    added, release, errors = threading.Event(), threading.Event(), []

    def add() -> None:
        try:
            with transaction.atomic(using=using):
                OrderSummary.objects.using(using).bulk_create([arriving])
                row = {"order_id": arriving.order_id, "created_at": arriving.created_at}
                write_words(using, [{**row, "search_text": arriving.search_text}], {})
                added.set()
                release.wait(30)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections[using].close()

    def remove() -> None:
        try:
            with transaction.atomic(using=using):
                row = {"order_id": leaving.order_id, "created_at": leaving.created_at}
                write_words(using, [{**row, "search_text": "moved"}], {str(leaving.order_id): leaving.search_text})
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections[using].close()

    adder = threading.Thread(target=add)
    adder.start()
    assert added.wait(30)
    remover = threading.Thread(target=remove)
    remover.start()
    # The remover waits for the adder's lock (or, without it, is already done).
    eventually(lambda: not remover.is_alive() or _waiting_on_an_advisory_lock(using), timeout=10)
    release.set()
    adder.join(30)
    remover.join(30)
    assert errors == []
    assert SearchWord.objects.using(using).filter(word="zebra").exists()
    assert newest_first(using, "zebr") == [str(arriving.order_id)]


def _waiting_on_an_advisory_lock(using: str) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        (waiting,) = cursor.fetchone()
    return bool(waiting)
