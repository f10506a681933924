"""On PostgreSQL, the database itself refuses UPDATE and DELETE of stored events."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION eventlog_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'eventlog_storedevent is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER eventlog_storedevent_append_only
    BEFORE UPDATE OR DELETE ON eventlog_storedevent
    FOR EACH ROW EXECUTE FUNCTION eventlog_reject_change();
"""

DROP = """
DROP TRIGGER IF EXISTS eventlog_storedevent_append_only ON eventlog_storedevent;
DROP FUNCTION IF EXISTS eventlog_reject_change();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
