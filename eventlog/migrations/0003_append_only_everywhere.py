"""The event log and the command records are append-only on both databases, TRUNCATE included.

0002 refused row UPDATE and DELETE of stored events on PostgreSQL only. This adds:

* PostgreSQL: a statement-level BEFORE TRUNCATE trigger on eventlog_storedevent (row
  triggers never see a TRUNCATE, so `TRUNCATE` and `manage.py flush` emptied the log), and
  the same three refusals on eventlog_commandrecord.
* SQLite (the embedded default): BEFORE UPDATE and BEFORE DELETE triggers that abort on both
  tables. SQLite has no TRUNCATE; its `DELETE FROM t` shortcut is never taken on a table
  with a DELETE trigger.

Command records are append-only too: a record is the proof that a command id was handled.
Rewriting its result would make a retry answer differently from the first attempt, deleting
it would let a retry run the command a second time. Nothing in the product changes one.
Snapshots are not: the repository overwrites a stream's one snapshot row as the stream grows,
and a lost snapshot only costs a longer replay.

On SQLite, a later migration that makes Django rebuild one of these tables (most column
changes there) drops its triggers with the old table and must create them again;
tests/integration/test_append_only.py fails if it does not.
"""

from django.db import migrations

TABLES = ("eventlog_storedevent", "eventlog_commandrecord")

# The function now names the table it guards. For stored events its message is the one 0002
# wrote, so going back to 0002 keeps it (0002's own backwards drops it).
POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION eventlog_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

POSTGRES = POSTGRES_FUNCTION + """
CREATE TRIGGER eventlog_storedevent_no_truncate
    BEFORE TRUNCATE ON eventlog_storedevent
    FOR EACH STATEMENT EXECUTE FUNCTION eventlog_reject_change();

CREATE TRIGGER eventlog_commandrecord_append_only
    BEFORE UPDATE OR DELETE ON eventlog_commandrecord
    FOR EACH ROW EXECUTE FUNCTION eventlog_reject_change();

CREATE TRIGGER eventlog_commandrecord_no_truncate
    BEFORE TRUNCATE ON eventlog_commandrecord
    FOR EACH STATEMENT EXECUTE FUNCTION eventlog_reject_change();
"""

POSTGRES_DROP = """
DROP TRIGGER IF EXISTS eventlog_commandrecord_no_truncate ON eventlog_commandrecord;
DROP TRIGGER IF EXISTS eventlog_commandrecord_append_only ON eventlog_commandrecord;
DROP TRIGGER IF EXISTS eventlog_storedevent_no_truncate ON eventlog_storedevent;
"""

SQLITE_TRIGGER = """
CREATE TRIGGER {name}
BEFORE {operation} ON {table}
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only: {operation} is not allowed');
END
"""


def sqlite_triggers():
    for table in TABLES:
        for operation in ("UPDATE", "DELETE"):
            name = f"{table}_no_{operation.lower()}"
            yield name, SQLITE_TRIGGER.format(name=name, table=table, operation=operation)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    elif vendor == "sqlite":
        for _name, sql in sqlite_triggers():
            schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for name, _sql in sqlite_triggers():
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0002_append_only_trigger")]
    operations = [migrations.RunPython(forwards, backwards)]
