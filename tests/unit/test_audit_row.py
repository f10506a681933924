"""The audit row's hand-written INSERT (audit/middleware.py) stays in step with its model."""

from __future__ import annotations

from audit.middleware import COLUMNS, INSERT_SQL
from audit.models import CommandAudit


def test_the_audit_insert_names_every_column_of_the_model_but_its_key() -> None:
    model_columns = [field.column for field in CommandAudit._meta.local_concrete_fields if not field.primary_key]
    assert sorted(COLUMNS) == sorted(model_columns)
    assert INSERT_SQL.startswith(f'INSERT INTO "{CommandAudit._meta.db_table}" (')
    assert INSERT_SQL.count("%s") == len(COLUMNS)
