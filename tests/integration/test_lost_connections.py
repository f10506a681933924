"""A connection lost under the write path's first round trip is an outage, not a failure of
what was being written: it reads as OperationalError, which the bus's callers (the inbound
consumer, the workers' tasks) retry, instead of psycopg's base DatabaseError, which the
inbound consumer dead-letters as the message's own fault (found by the chaos soak: a shipment
dead-lettered with "DatabaseError: server closed the connection unexpectedly").

The proxy runs in this process's threads, so the test also proves the first round trip waits
with the GIL released: the earlier blocking read held it, and this test hung."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import OperationalError, connections

from eventlog.pg_statements import begin_with, bound, client_cursor
from tests.support.faults import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def through_a_proxy() -> Iterator[TcpProxy]:
    """The default connection, reopened through a proxy the test cuts."""
    connection = connections["default"]
    params = connection.settings_dict
    saved = (params["HOST"], params["PORT"])
    with TcpProxy(params.get("HOST") or "127.0.0.1", int(params.get("PORT") or 5432)) as proxy:
        connection.close()
        params["HOST"], params["PORT"] = "127.0.0.1", proxy.port
        try:
            yield proxy
        finally:
            params["HOST"], params["PORT"] = saved
            connection.close()


def test_a_connection_lost_under_begin_with_is_an_operational_error(through_a_proxy: TcpProxy) -> None:
    connection = connections["default"]
    connection.ensure_connection()
    assert begin_with(connection.connection, bound("SELECT %s", [1])) == [[(1,)]]
    connection.connection.rollback()
    through_a_proxy.cut()
    with pytest.raises(OperationalError), connection.wrap_database_errors:
        begin_with(connection.connection, bound("SELECT %s", [1]))


def test_a_connection_lost_under_the_last_message_of_a_command_is_an_operational_error(
    through_a_proxy: TcpProxy,
) -> None:
    """The audit row and COMMIT go through `client_cursor`, straight on the driver: its errors
    still read as Django's, so a lost connection there is retried as an outage too."""
    connection = connections["default"]
    with client_cursor(connection) as cursor:
        cursor.execute("SELECT %s; SELECT 2", [1])
    through_a_proxy.cut()
    with pytest.raises(OperationalError), client_cursor(connection) as cursor:
        cursor.execute("SELECT %s", [1])
