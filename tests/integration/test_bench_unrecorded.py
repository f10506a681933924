"""The `record` switch of the benchmarks (bench/unrecorded.py) leaves out exactly the
idempotency record: the command's events and audit row commit as with the product's bus, and
only the record is missing, so the benchmark's difference is the record's cost."""

from __future__ import annotations

import pytest

from audit.models import CommandAudit
from bench.unrecorded import UnrecordedUnitOfWork
from eventlog.models import CommandRecord, StoredEvent
from pipeline.chain import configured_middleware
from tests.factories import CreateOrderFactory
from writeside.bus import MessageBus
from writeside.commands import Command

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def written(bus: MessageBus, command: Command) -> tuple[int, int, int]:
    """Events, records and audit rows of the command once the bus has handled it."""
    bus.handle(command)
    return (
        StoredEvent.objects.filter(metadata__command_id=command.command_id).count(),
        CommandRecord.objects.filter(command_id=command.command_id).count(),
        CommandAudit.objects.filter(command_id=command.command_id).count(),
    )


def test_only_the_record_is_left_out() -> None:
    middleware = configured_middleware("COMMAND_MIDDLEWARE")
    product = MessageBus(middleware=middleware)  # type: ignore[arg-type]
    unrecorded = MessageBus(uow_factory=UnrecordedUnitOfWork, middleware=middleware)  # type: ignore[arg-type]

    assert written(product, CreateOrderFactory()) == (1, 1, 1)
    assert written(unrecorded, CreateOrderFactory()) == (1, 0, 1)
