"""config/sqlite's write lock is handed out in the order it was asked for (config/sqlite/turns.py)."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from config.sqlite.turns import Turns
from tests.support.waiting import eventually


def _in_line(turns: Turns, waiting: int) -> bool:
    return turns.waiting == waiting


def test_the_thread_that_releases_cannot_take_the_lock_again_ahead_of_one_waiting() -> None:
    """The starvation config/sqlite exists to prevent: with threading.Lock the releasing
    thread takes the lock straight back nearly every time, ahead of the thread it woke."""
    turns, order = Turns(), []
    assert turns.acquire(timeout=1)

    def waiter() -> None:
        assert turns.acquire(timeout=10)
        order.append("waiter")
        turns.release()

    thread = threading.Thread(target=waiter)
    thread.start()
    eventually(lambda: turns.waiting == 1, 10, "one waiter in line")
    turns.release()
    assert turns.acquire(timeout=10)  # at once again, as a writer committing in a loop would
    order.append("releaser")
    turns.release()
    thread.join(10)
    assert order == ["waiter", "releaser"]


def test_waiters_get_the_lock_in_the_order_they_asked() -> None:
    turns, order = Turns(), []
    assert turns.acquire(timeout=1)

    def waiter(name: int) -> None:
        assert turns.acquire(timeout=10)
        order.append(name)
        turns.release()

    threads = []
    for name in range(5):
        threads.append(threading.Thread(target=waiter, args=(name,)))
        threads[-1].start()
        eventually(partial(_in_line, turns, name + 1), 10, "the waiter in line")  # before the next asks
    turns.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_that_times_out_leaves_the_line_and_the_next_gets_its_turn() -> None:
    turns, got = Turns(), threading.Event()
    assert turns.acquire(timeout=1)
    assert not turns.acquire(timeout=0.05)  # the holder's own second ask times out: not reentrant
    assert turns.waiting == 0

    def patient() -> None:
        if turns.acquire(timeout=10):
            got.set()
            turns.release()

    impatient = threading.Thread(target=lambda: turns.acquire(timeout=0.2))
    impatient.start()
    eventually(lambda: turns.waiting == 1, 10, "one waiter in line")
    later = threading.Thread(target=patient)
    later.start()
    eventually(lambda: turns.waiting == 2, 10, "two waiters in line")
    impatient.join(10)  # timed out, first in line
    assert turns.waiting == 1
    turns.release()
    assert got.wait(10)
    later.join(10)


def test_releasing_a_lock_not_held_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not held"):
        Turns().release()
