# 1. The search's postings' only index on PostgreSQL is a unique one over (word, created_at DESC,
#    order_id): a word's orders in the list's order (newest first, then by order id) are one
#    range of it, read without the table (readmodels/selectors/word_search.py), and it keeps a
#    posting from being written twice (search_words.py's ON CONFLICT). 0017's primary key
#    (order_id, word) goes with its upkeep on every posting written: the projection deletes a
#    posting by word and order, which the index's word prefix finds. A primary key cannot sort
#    a column descending, and ascending the list's order would need a sort among equal times,
#    so the table has the unique index instead of a primary key constraint, which also lets a
#    rebuild build it after the words are loaded rather than keep it up row by row
#    (projector/shadow.py builds every index but a constraint's after the load). The model
#    says the same three fields are its key. SQLite, which writes no postings, gets the empty
#    table made again with that key (Django's schema editor leaves a composite key unchanged).
# 2. The words (both tables' `word`) compare byte by byte on PostgreSQL (COLLATE "C"): nothing
#    sorts them for a reader, only for the indexes, the fill's DISTINCT and ANALYZE, which a
#    language's collation makes slower (a fifth of the words' part of a rebuild here, more under
#    a collation such as en_US). Not declared on the model: SQLite has no collation of that name.
# 3. No read model is looked up by a prefix of a text (`startswith`): the `varchar_pattern_ops`
#    and `text_pattern_ops` indexes Django adds beside each unique or indexed text column on
#    PostgreSQL (`*_like`) are dropped, and with them their cost in every row the projections
#    write and every index a rebuild builds (tests/integration/test_read_model_indexes.py
#    keeps them out). Backwards leaves them out: nothing reads them.

from django.db import migrations, models

WORDS = "readmodels_searchword"
POSTINGS = "readmodels_searchposting"
KEY = f"{POSTINGS}_pkey"
WORD_INDEX = "search_posting_word_idx"
UNIQUE_INDEX = "search_posting_key"


def _sqlite_postings(schema_editor, key):
    schema_editor.execute(f'DROP TABLE "{POSTINGS}"')
    schema_editor.execute(
        f'CREATE TABLE "{POSTINGS}" ("order_id" char(32) NOT NULL, "word" text NOT NULL, '
        f'"created_at" datetime NOT NULL, PRIMARY KEY ({key}))'
    )


def rekey(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        _sqlite_postings(schema_editor, '"word", "created_at", "order_id"')
        return
    for table in (WORDS, POSTINGS):
        schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN word TYPE text COLLATE "C"')
    schema_editor.execute(f"CREATE UNIQUE INDEX {UNIQUE_INDEX} ON {POSTINGS} (word, created_at DESC, order_id)")
    schema_editor.execute(f"DROP INDEX {WORD_INDEX}")
    schema_editor.execute(f"ALTER TABLE {POSTINGS} DROP CONSTRAINT {KEY}")


def unkey(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        _sqlite_postings(schema_editor, '"order_id", "word"')
        schema_editor.execute(f'CREATE INDEX "{WORD_INDEX}" ON "{POSTINGS}" ("word", "created_at" DESC, "order_id")')
        return
    schema_editor.execute(f"ALTER TABLE {POSTINGS} ADD CONSTRAINT {KEY} PRIMARY KEY (order_id, word)")
    schema_editor.execute(f"CREATE INDEX {WORD_INDEX} ON {POSTINGS} (word, created_at DESC, order_id)")
    schema_editor.execute(f"DROP INDEX {UNIQUE_INDEX}")
    for table in (WORDS, POSTINGS):
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN word TYPE text COLLATE pg_catalog.default")


def drop_prefix_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(PREFIX_INDEXES)
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


# The read models' prefix (pattern_ops) indexes in the current schema, quoted as identifiers.
PREFIX_INDEXES = (
    "SELECT quote_ident(index.relname) FROM pg_index AS i "
    "JOIN pg_class AS index ON index.oid = i.indexrelid JOIN pg_class AS tab ON tab.oid = i.indrelid "
    "WHERE tab.relnamespace = current_schema()::regnamespace AND tab.relname LIKE 'readmodels\\_%%' "
    "AND pg_get_indexdef(i.indexrelid) ~ '(varchar|text)_pattern_ops'"
)


class Migration(migrations.Migration):

    dependencies = [
        ('readmodels', '0017_search_words'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name='searchposting', name=WORD_INDEX),
                migrations.AlterField(
                    model_name='searchposting',
                    name='pk',
                    field=models.CompositePrimaryKey('word', 'created_at', 'order_id', blank=True, editable=False, primary_key=True, serialize=False),
                ),
            ],
            database_operations=[migrations.RunPython(rekey, unkey)],
        ),
        migrations.RunPython(drop_prefix_indexes, migrations.RunPython.noop),
    ]
