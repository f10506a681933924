"""The one DELETE the event log allows, and no event for a stream that lives in cold storage.

The archiver (archive/procedure.py) removes a stream's events from the log only after their
segment was written, read back and verified: the database lets a DELETE of a stored event
through only while a `verified` manifest row (eventlog_archivedstream) covers its stream and
version, and refuses every other DELETE, UPDATE and TRUNCATE as before. Privilege still comes
first: the web and worker role has no DELETE on the log at all (docs/architecture.md), only
the archiver's role does.

Once the stream is `archived`, an INSERT of any event of it is refused (as a unique
violation: to the writer it is a stream that moved on), so a command that loaded the order
before it was archived cannot append to a stream whose history is no longer in the log.
"""

from django.db import migrations

POSTGRES = """
CREATE OR REPLACE FUNCTION eventlog_reject_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'eventlog_storedevent' THEN
        IF EXISTS (
            SELECT 1 FROM eventlog_archivedstream a
            WHERE a.stream_id = OLD.stream_id AND a.status = 'verified' AND a.last_version >= OLD.version
        ) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION eventlog_refuse_archived_stream() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM eventlog_archivedstream a WHERE a.stream_id = NEW.stream_id AND a.status = 'archived'
    ) THEN
        RAISE EXCEPTION 'stream % is archived', NEW.stream_id USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER eventlog_storedevent_not_archived
    BEFORE INSERT ON eventlog_storedevent
    FOR EACH ROW EXECUTE FUNCTION eventlog_refuse_archived_stream();
"""

# 0003's function, as it was.
POSTGRES_BACK = """
DROP TRIGGER IF EXISTS eventlog_storedevent_not_archived ON eventlog_storedevent;
DROP FUNCTION IF EXISTS eventlog_refuse_archived_stream();
CREATE OR REPLACE FUNCTION eventlog_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_DELETE = """
CREATE TRIGGER eventlog_storedevent_no_delete
BEFORE DELETE ON eventlog_storedevent
WHEN NOT EXISTS (
    SELECT 1 FROM eventlog_archivedstream a
    WHERE a.stream_id = OLD.stream_id AND a.status = 'verified' AND a.last_version >= OLD.version
)
BEGIN
    SELECT RAISE(ABORT, 'eventlog_storedevent is append-only: DELETE is not allowed');
END
"""

SQLITE_DELETE_BACK = """
CREATE TRIGGER eventlog_storedevent_no_delete
BEFORE DELETE ON eventlog_storedevent
BEGIN
    SELECT RAISE(ABORT, 'eventlog_storedevent is append-only: DELETE is not allowed');
END
"""

SQLITE_INSERT = """
CREATE TRIGGER eventlog_storedevent_not_archived
BEFORE INSERT ON eventlog_storedevent
WHEN EXISTS (SELECT 1 FROM eventlog_archivedstream a WHERE a.stream_id = NEW.stream_id AND a.status = 'archived')
BEGIN
    SELECT RAISE(ABORT, 'UNIQUE constraint failed: the stream is archived');
END
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS eventlog_storedevent_no_delete", params=None)
        schema_editor.execute(SQLITE_DELETE, params=None)
        schema_editor.execute(SQLITE_INSERT, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACK, params=None)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS eventlog_storedevent_not_archived", params=None)
        schema_editor.execute("DROP TRIGGER IF EXISTS eventlog_storedevent_no_delete", params=None)
        schema_editor.execute(SQLITE_DELETE_BACK, params=None)


class Migration(migrations.Migration):
    dependencies = [("eventlog", "0006_archivedstream")]
    operations = [migrations.RunPython(forwards, backwards)]
