"""`field__any=values`: membership in a batch's keys as one parameter.

A projection batch asks for the rows of a thousand or more keys at once. `__in` renders
one placeholder per key, and psycopg's client-side binding then splits and quotes a query
thousands of placeholders long; on PostgreSQL this sends `= ANY(%s)` with the keys as one
array. Elsewhere it is `IN (...)`, as `__in` would be.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Lookup
from django.db.models.sql.compiler import SQLCompiler


@Field.register_lookup
class AnyOf(Lookup):  # type: ignore[type-arg]  # generic only in the stubs
    """`field__any=values`: the field equals one of `values`."""

    lookup_name = "any"
    prepare_rhs = False

    def _values(self, connection: BaseDatabaseWrapper) -> list[Any]:
        field = self.lhs.output_field
        values = [field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True) for value in self.rhs]
        if not values:
            raise EmptyResultSet
        return values

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        """`lhs IN (%s, ...)`."""
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = self._values(connection)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        """`lhs = ANY(%s)` with one array parameter."""
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, self._values(connection)]
