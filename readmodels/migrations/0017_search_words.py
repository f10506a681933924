# The order search's words (readmodels/projections/search_words.py): the vocabulary and each
# order's postings, filled from the summaries' search text as the projection writes them from
# now on; on PostgreSQL only (SQLite's search scans the summaries, and nothing is written there).
# The search text gets its words separated by single spaces, as readmodels/search.py writes it
# now (a rebuild splits it at spaces in the database).
#
# The vocabulary's trigram index is over the word with the characters that join an
# identifier's parts replaced by a letter, exactly as 0016's index over the search text and
# readmodels/search.py `joined` (change them together); not in the model's Meta, as SQLite
# has none.
#
# Orders a worker of the release before this one projects after this migration ran have no
# postings until `manage.py rebuild orders` (docs/operations.md): migrate with the workers
# stopped, as `make up` does, or rebuild after the rolling deploy.

from django.db import migrations, models

from readmodels.search import words_of

VOCABULARY_TRIGRAM = "search_word_trgm_idx"
JOINED = "replace(replace(replace(replace(word, '-', 'q'), '.', 'q'), '_', 'q'), '@', 'q')"
CHUNK = 5000


def fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX {VOCABULARY_TRIGRAM} ON readmodels_searchword USING gin (({JOINED}) gin_trgm_ops)")
        after = None
        while True:
            cursor.execute(
                "SELECT order_id, created_at, search_text FROM readmodels_ordersummary "
                "WHERE %s IS NULL OR order_id > %s ORDER BY order_id LIMIT %s",
                [after, after, CHUNK],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            after = rows[-1][0]
            # The text as the projection writes it from now on: words separated by single spaces.
            spaced = [(" ".join(text.split()), order_id) for order_id, _, text in rows if text != " ".join(text.split())]
            if spaced:
                cursor.executemany("UPDATE readmodels_ordersummary SET search_text = %s WHERE order_id = %s", spaced)
            postings = [(order_id, word, created_at) for order_id, created_at, text in rows for word in sorted(words_of(text))]
            if postings:
                cursor.execute(
                    "INSERT INTO readmodels_searchword (word) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                    [sorted({word for _, word, _ in postings})],
                )
                cursor.execute(
                    "INSERT INTO readmodels_searchposting (order_id, word, created_at) "
                    "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[])",
                    [[p[0] for p in postings], [p[1] for p in postings], [p[2] for p in postings]],
                )


def unfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {VOCABULARY_TRIGRAM}")


class Migration(migrations.Migration):

    dependencies = [
        ('readmodels', '0016_search_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='SearchWord',
            fields=[
                ('word', models.TextField(primary_key=True, serialize=False)),
            ],
        ),
        migrations.CreateModel(
            name='SearchPosting',
            fields=[
                ('pk', models.CompositePrimaryKey('order_id', 'word', blank=True, editable=False, primary_key=True, serialize=False)),
                ('order_id', models.UUIDField()),
                ('word', models.TextField()),
                ('created_at', models.DateTimeField()),
            ],
            options={
                'indexes': [models.Index(fields=['word', '-created_at', 'order_id'], name='search_posting_word_idx')],
            },
        ),
        migrations.RunPython(fill, unfill),
    ]
