"""`read`: random OrderDetail by id, list pages by status and order searches (`?q=`), in-process
through the query layer."""

from __future__ import annotations

import random
from functools import partial
from typing import Any
from uuid import UUID

from django.core.paginator import Paginator
from django.db import connections

from bench.spec import STATUSES
from bench.workload import timed
from projector.loop import read_database
from readmodels.models import OrderDetail, OrderSummary, SearchPosting, SearchWord
from readmodels.selectors.orders import order_detail, order_summary_list

PAGE_SIZE = 50


def _page(rng: random.Random) -> None:
    """One list page as the API serves it: a count of the filtered rows and one slice."""
    rows: Any = order_summary_list(status=rng.choice(STATUSES))
    paginator = Paginator(rows, PAGE_SIZE)
    list(paginator.get_page(rng.randint(1, 20)).object_list)


def _search(rng: random.Random, texts: list[str]) -> None:
    """The first page of a search as staff type it: part (4 to 8 characters) of one word of
    a random order's search text, so it finds that order and any sharing the part."""
    word = rng.choice(rng.choice(texts).split())
    start = rng.randrange(max(1, len(word) - 4))
    rows: Any = order_summary_list(text=word[start : start + rng.randint(4, 8)])
    list(Paginator(rows, PAGE_SIZE).get_page(1).object_list)


def vacuum_read_models() -> None:
    """VACUUM ANALYZE the tables the read phase queries."""
    connection = connections[read_database()]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (OrderSummary, OrderDetail, SearchWord, SearchPosting):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def read(samples: int, seed: int) -> dict[str, Any]:
    """OrderDetail by random id and list pages by random status: reads/s, p50/p99."""
    rng = random.Random(seed)
    ids: list[UUID] = list(OrderSummary.objects.values_list("order_id", flat=True))
    if not ids:
        raise RuntimeError("no orders in the read model: run the write and project phases first")
    picks = [rng.choice(ids) for _ in range(samples)]
    for order_id in picks[:50]:  # warm the connection and the statement caches
        order_detail(order_id)
    detail = timed((partial(order_detail, order_id) for order_id in picks), "reads")
    listing = timed((partial(_page, rng) for _ in range(max(1, samples // 4))), "reads")
    texts = list(OrderSummary.objects.filter(order_id__in=picks[:1000]).values_list("search_text", flat=True))
    search = timed((partial(_search, rng, texts) for _ in range(max(1, samples // 4))), "reads")
    return {"detail": detail, "list_page": listing, "search": search, "orders": len(ids), "page_size": PAGE_SIZE}
