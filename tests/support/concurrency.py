"""Work started at the same moment in several threads, each on database connections of its own,
for the tests that prove what concurrent writers and readers can and cannot do to each other."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads started together; returns results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()  # this thread's connections to every database

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for index, thread in enumerate(threads):
        thread.join(60)
        if thread.is_alive():  # not a result: a test reading None as done would pass on half the work
            results[index] = TimeoutError(f"thread {index} still running after 60 s")
    return results


def in_thread(target: Any, errors: list[BaseException]) -> threading.Thread:
    """Run `target` on a thread of its own (its own connections), collecting its error."""

    def run() -> None:
        try:
            target()
        except BaseException as error:  # reported by the test thread
            errors.append(error)
        finally:
            for connection in connections.all():
                connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread
