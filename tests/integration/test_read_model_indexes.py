"""The read models' indexes on PostgreSQL (migration 0018): none for a text's prefix, which no
read looks up and every projected row would keep up; the postings' one index unique. The
columns a search reads as ranges of bytes compare byte by byte (migrations 0018 and 0019),
whatever the database's collation, after a rebuild too."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import connections

from projector.loop import read_database
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderSummary, SearchPosting, SearchWord
from tests.factories import CreateOrderFactory
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def index_definitions(table: str) -> list[str]:
    with connections[read_database()].cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", [table]
        )
        return [definition for (definition,) in cursor.fetchall()]


def test_no_read_model_has_a_prefix_index() -> None:
    tables = [model._meta.db_table for model in apps.get_app_config("readmodels").get_models()]
    prefix = {
        table: definition for table in tables for definition in index_definitions(table) if "_pattern_ops" in definition
    }
    assert len(tables) > 10
    assert prefix == {}


def byte_ordered_columns() -> set[tuple[str, str]]:
    """The read models' (table, column) whose collation is "C"."""
    with connections[read_database()].cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name LIKE 'readmodels%%' AND collation_name = 'C'"
        )
        return set(cursor.fetchall())


# The order number's range (readmodels/order_numbers.py) is wrong under a language's collation,
# which ignores the dash: ['ORD-', 'ORD.') would hold no number at all.
BYTE_ORDERED = {
    (OrderSummary._meta.db_table, "order_number"),
    (SearchWord._meta.db_table, "word"),
    (SearchPosting._meta.db_table, "word"),
}


def test_the_columns_read_as_ranges_of_bytes_compare_byte_by_byte() -> None:
    assert byte_ordered_columns() == BYTE_ORDERED


def test_the_postings_one_index_is_unique_and_in_the_lists_order() -> None:
    [definition] = index_definitions(SearchPosting._meta.db_table)
    assert "CREATE UNIQUE INDEX" in definition
    assert definition.endswith("(word, created_at DESC, order_id)")


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_swaps_in_tables_with_every_index_the_live_ones_had(settings: Any) -> None:
    """The shadow's indexes are built on two connections (projector/shadow_indexes.py): the
    tables swapped in have the same indexes, collations and statistics."""
    settings.PROJECTIONS_INLINE = True
    for _ in range(3):
        handle(CreateOrderFactory())
    tables = [model._meta.db_table for model in apps.get_app_config("readmodels").get_models()]
    before = {table: sorted(index_definitions(table)) for table in tables}
    rebuild_by_name(["orders", "sales", "products"])
    assert {table: sorted(index_definitions(table)) for table in tables} == before
    assert byte_ordered_columns() == BYTE_ORDERED
    with connections[read_database()].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = %s",
            [SearchPosting._meta.db_table],
        )
        assert cursor.fetchone()[0] > 0
