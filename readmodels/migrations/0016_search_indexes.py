# The order search's indexes on PostgreSQL (readmodels/search.py, readmodels/selectors/order_search.py);
# SQLite gets neither (its search scans the table), so neither is in the model's Meta.
#
# 1. The trigram index (0009's summary_search_trgm_idx) is rebuilt over the text with the
#    characters that join an identifier's parts replaced by a letter (search.WORD_JOINERS):
#    pg_trgm splits words at every other character, so over the plain text `c-0` was looked
#    up as the words `c` and `0`, which nearly every order has, and every row was read to be
#    rechecked. The expression must stay exactly the one selectors/order_search.py JoinedSearchText
#    writes, or the planner cannot use the index.
# 2. summary_search_walk_idx holds the search text beside the list's sort key, so a search
#    with more than SEARCH_COUNT_LIMIT matches walks the newest first reading the index only
#    (each row's text checked in the index), not every row it passes from the table.
#
# Built and dropped CONCURRENTLY, so neither blocks the projection's writes on a live table;
# hence `atomic = False`. The new trigram index is built under a temporary name, the old one
# dropped, then it takes the old name; backwards does the same with 0009's definition.

from django.db import migrations

TABLE = "readmodels_ordersummary"
TRIGRAM = "summary_search_trgm_idx"
BUILDING = "summary_search_trgm_new"
JOINED = "replace(replace(replace(replace(search_text, '-', 'q'), '.', 'q'), '_', 'q'), '@', 'q')"
WALK = "summary_search_walk_idx"


def _swap_trigram_index(schema_editor, expression):
    """Replace the trigram index by one over `expression`, under the same name."""
    # A build interrupted earlier leaves an INVALID index under the temporary name: start over.
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {BUILDING}")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY {BUILDING} ON {TABLE} USING gin (({expression}) gin_trgm_ops)")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TRIGRAM}")
    schema_editor.execute(f"ALTER INDEX {BUILDING} RENAME TO {TRIGRAM}")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _swap_trigram_index(schema_editor, JOINED)
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {WALK}")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY {WALK} ON {TABLE} (created_at DESC, order_id) INCLUDE (search_text)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {WALK}")
    _swap_trigram_index(schema_editor, "search_text")


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('readmodels', '0015_staff_names'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, atomic=False),
    ]
