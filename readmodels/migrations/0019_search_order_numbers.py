# A search finds an order number by the number itself (readmodels/order_numbers.py): the
# vocabulary keeps each order's own number by its digits alone (readmodels/search.py
# `words_of`), and a typed part holding the number's dash or letters is one range of the order
# list's number index, compared byte by byte. On PostgreSQL:
# 1. The order list's `order_number` compares byte by byte (COLLATE "C"; its unique index is
#    built again, under a second at 100,000 orders). Every number has one form (`ORD-` and
#    digits), which any collation orders alike, so the list's order by number does not change.
#    Not declared on the model: SQLite has no collation of that name, and searches nothing there.
# 2. The postings and the vocabulary are written again from the summaries' search text, as
#    projections/search_words.py `fill_words` writes them (the statements are this
#    migration's own, as the words were at this release), the postings' unique index (0018)
#    built after them: about 2 s at 100,000 orders. Backwards writes them as 0018 left them.
#
# Orders a worker of the release before this one projects after this migration ran keep their
# whole number among their words and not its digits: a search for a part of the digits misses
# them until `manage.py rebuild_projections orders` (docs/operations.md). Migrate with the
# workers stopped, as `make up` does, or rebuild after a rolling deploy.

from django.db import migrations

SUMMARIES = "readmodels_ordersummary"
WORDS = "readmodels_searchword"
POSTINGS = "readmodels_searchposting"
POSTINGS_KEY = "search_posting_key"
# Each order's words, made distinct on their own; with the number's digits, the text's first
# word `ord-` and digits as its digits alone.
TOKENS = "unnest(string_to_array(summary.search_text, ' ')) WITH ORDINALITY AS token (word, place)"
BY_DIGITS = "CASE WHEN token.place = 1 AND token.word ~ '^ord-[0-9]+$' THEN substr(token.word, 5) ELSE token.word END"


def _write_words(schema_editor, word):
    schema_editor.execute(f"TRUNCATE {POSTINGS}, {WORDS}")
    schema_editor.execute(f"DROP INDEX {POSTINGS_KEY}")
    schema_editor.execute(
        f"INSERT INTO {POSTINGS} (order_id, word, created_at) SELECT summary.order_id, split.word, summary.created_at "
        f"FROM {SUMMARIES} AS summary, LATERAL (SELECT DISTINCT {word} FROM {TOKENS} "
        "WHERE token.word <> '') AS split (word)"
    )
    schema_editor.execute(f"CREATE UNIQUE INDEX {POSTINGS_KEY} ON {POSTINGS} (word, created_at DESC, order_id)")
    schema_editor.execute(f"INSERT INTO {WORDS} (word) SELECT DISTINCT word FROM {POSTINGS} ORDER BY word")
    schema_editor.execute(f"ANALYZE {POSTINGS}, {WORDS}")


def by_number(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'ALTER TABLE {SUMMARIES} ALTER COLUMN order_number TYPE varchar(20) COLLATE "C"')
    _write_words(schema_editor, BY_DIGITS)


def by_word(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {SUMMARIES} ALTER COLUMN order_number TYPE varchar(20) COLLATE pg_catalog.default")
    _write_words(schema_editor, "token.word")


class Migration(migrations.Migration):

    dependencies = [
        ('readmodels', '0018_search_postings_key'),
    ]

    operations = [migrations.RunPython(by_number, by_word)]
