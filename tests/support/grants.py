"""Database privileges as tests check them: the grants docs/ documents, and a block run as a role
that holds only those (least privilege), so a test proves what the app may and may not do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from django.db import connections

from projector import shadow
from projector.loop import read_database


@contextmanager
def least_privileged() -> Iterator[None]:
    """On PostgreSQL, the read database's connection as the documented application role
    (docs/architecture.md): it may read and write rows but not create tables, so a rebuild
    runs in place. Elsewhere (SQLite) every rebuild runs in place anyway."""
    connection = connections[read_database()]
    if connection.vendor != "postgresql":
        yield
        return
    role = f"test_app_{uuid4().hex[:12]}"  # roles are cluster-wide: a name of this test's own
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute("SELECT to_regclass('eventlog_storedevent') IS NOT NULL")
        holds_the_log = cursor.fetchone()[0]  # not with the read models in a database of their own
        for statement in documented_grants().replace("backoffice_app", role).split(";"):
            if statement.strip() and (holds_the_log or "eventlog_" not in statement):
                cursor.execute(statement)
        cursor.execute(f"SET ROLE {role}")
    try:
        assert not shadow.possible(read_database())
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


def documented_grants() -> str:
    """The SQL block docs/architecture.md gives the owner to run after every migrate."""
    match = re.search(r"<!-- tests/integration/test_append_only.py [^>]*-->\s*```sql\n(.*?)```", DOCS.read_text(), re.S)
    assert match, "docs/architecture.md lost its block of grants"
    return match.group(1)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
