"""The unit of work: one transaction, one aggregate's new events, published after commit.

It knows no context: each registers the repository of its aggregate type from its AppConfig
(`register_repository`), and handlers ask for one by aggregate type or stream type
(`uow.repository(Order)`, `uow.repository("product")`)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, cast, overload

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from eventlog.idempotency import HandledCommand, command_log
from eventlog.personal import KeySource, data_subject
from eventlog.pg_statements import client_cursor
from eventlog.publishing import publish_after_commit
from eventlog.recorded import RecordedEvent
from eventlog.records import CommandEntry, append_outcome
from eventlog.store import EventStore, event_store
from kernel.errors import DomainError
from writeside.aggregate import Aggregate
from writeside.repository import EventSourcedRepository, Repository

AggregateT = TypeVar("AggregateT", bound=Aggregate[Any, Any])

# A repository of one aggregate type over the event store of a unit of work.
RepositoryFactory = Callable[[EventStore], EventSourcedRepository[Any]]

# Stream type -> its repository's factory; filled by the contexts' AppConfig.ready().
REPOSITORIES: dict[str, RepositoryFactory] = {}


def register_repository(aggregate_type: type[Aggregate[Any, Any]], factory: RepositoryFactory) -> None:
    """Say how a unit of work loads and saves aggregates of this type (one repository per type)."""
    stream_type = aggregate_type.stream_type
    if REPOSITORIES.get(stream_type, factory) is not factory:
        raise RuntimeError(f"A repository for {stream_type!r} is registered already")
    REPOSITORIES[stream_type] = factory


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandResult:
    """What a command answers: ids and positions, never the aggregate's data."""

    stream_id: str
    version: int
    position: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the command record."""
        return append_outcome(self.stream_id, self.version, self.position)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommandResult:
        """Inverse of `to_dict`."""
        return cls(stream_id=str(data["stream_id"]), version=int(data["version"]), position=int(data["position"]))


# SQL with %s placeholders, and its parameters.
Statement = tuple[str, Sequence[Any]]


class Companion(Protocol):
    """A row a middleware writes in the command's own transaction once the result is known
    (the audit row), as the transaction's last statement: it commits with the command or not
    at all, and a failure to write it is the command's failure (rolled back, nothing
    happened), so no command commits without its row."""

    def statement(self, result: CommandResult) -> Statement:
        """The row's INSERT for this result."""
        ...

    def written(self) -> None:
        """Called once the row has committed with the command (or with the caller's
        transaction, inside one); never if the row failed or the command rolled back."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandContext:
    """The command being handled, as the unit of work records it next to its events."""

    command_id: str
    command_type: str
    fingerprint: str
    metadata: dict[str, Any]
    companions: tuple[Companion, ...] = ()
    # True when the command id has its record already (a rerun, Command.reruns_on_retry):
    # the events are written with the context's metadata, but no second record.
    recorded: bool = False


class AbstractUnitOfWork(abc.ABC):
    """One command's transaction. Handlers load through `repository(...)` and call
    `commit()`, or `unchanged()` when the command is a no-op by the aggregate's rules."""

    context: CommandContext | None = None
    # The repositories opened so far; a subclass empties it when its transaction begins.
    _opened: dict[str, Repository[Any]]
    # The companions' rows for the result, for the subclass to write before its commit.
    _last: list[tuple[Companion, Statement]]

    @overload
    def repository(self, kind: type[AggregateT]) -> Repository[AggregateT]: ...

    @overload
    def repository(self, kind: str) -> Repository[Any]: ...

    def repository(self, kind: type[AggregateT] | str) -> Repository[Any]:
        """The repository of an aggregate type, or of a stream type (how a context asks about
        another's aggregates without importing them), opened once per unit of work."""
        stream_type = kind if isinstance(kind, str) else kind.stream_type
        if stream_type not in self._opened:
            self._opened[stream_type] = self._open_repository(stream_type)
        return self._opened[stream_type]

    def repositories(self) -> tuple[Repository[Any], ...]:
        """Every repository opened in this unit of work."""
        return tuple(self._opened.values())

    @abc.abstractmethod
    def _open_repository(self, stream_type: str) -> Repository[Any]:
        """A fresh repository of a registered stream type; LookupError if none is."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    @abc.abstractmethod
    def handled(self, command_id: str) -> HandledCommand | None:
        """The record of a command id handled before, if any."""

    def will_load(self, stream_type: str, aggregate_id: Any) -> None:
        """A hint, before `handled`: the handler is about to load this aggregate, so a unit of
        work may read its stream along with the look-up. Ignored here."""
        return None

    @property
    @abc.abstractmethod
    def keys(self) -> KeySource:
        """The keys of data subjects, in this unit of work's transaction."""

    def data_subject_of(self, stream_type: str, aggregate_id: Any) -> str | None:
        """Whose personal data an aggregate holds (its state's `data_subject`), loaded in this
        unit of work; None if it does not exist or its state names nobody. A handler loading it
        afterwards reads it afresh: one round trip more, for the few commands that ask."""
        try:
            state = self.repository(stream_type).get(aggregate_id).state
        except DomainError:
            return None
        field = data_subject(type(state))
        subject = getattr(state, field, None) if field else None
        return str(subject) if subject else None

    @abc.abstractmethod
    def forget_subject(self, subject: str) -> bool:
        """Delete the subject's key in this transaction (so everything sealed with it reads as
        None once committed); True if it had one."""

    @abc.abstractmethod
    def streams_with(self, event_type: str, field: str, value: str) -> list[str]:
        """The streams holding an event of `event_type` whose `field` equals `value`."""

    def commit(self) -> CommandResult:
        """Append the one changed aggregate's events with its expected version.

        The command record is written in the same transaction, and subscribers are told
        only once that transaction has committed.
        """
        changed = [
            aggregate
            for repository in self.repositories()
            for aggregate in repository.seen
            if aggregate.version != aggregate.stored_version
        ]
        if len(changed) != 1:
            raise RuntimeError(f"A command must change exactly one aggregate, not {len(changed)}")
        recorded = self._save_recorded(changed[0], self.context)
        result = CommandResult(stream_id=changed[0].id, version=changed[0].version, position=recorded[-1].position)
        self._last = self._companion_rows(result)
        self._publish(recorded)
        return result

    def _companion_rows(self, result: CommandResult) -> list[tuple[Companion, Statement]]:
        """The rows the command's middleware asked for (CommandContext.companions); one that
        cannot say its row fails the command, as one that cannot be written does."""
        companions = self.context.companions if self.context else ()
        return [(companion, companion.statement(result)) for companion in companions]

    def _save_recorded(self, aggregate: Aggregate[Any, Any], context: CommandContext | None) -> list[RecordedEvent]:
        """Append the aggregate's events and the command's record; a unit of work whose store
        writes both in one statement overrides this."""
        recorded = self._save(aggregate, context.metadata if context else {})
        if context is not None and not context.recorded:
            result = CommandResult(stream_id=aggregate.id, version=aggregate.version, position=recorded[-1].position)
            self._record(context, result)
        return recorded

    def unchanged(self, aggregate: Aggregate[Any, Any]) -> CommandResult:
        """End a command that, by the aggregate's rules, changes nothing (a repeated
        reservation, releasing what is not held). It still succeeds and is recorded, so a
        retry answers the same; `position` is that of the stream's last event."""
        if aggregate.version != aggregate.stored_version:
            raise RuntimeError(f"{aggregate.stream_type} {aggregate.id} has unsaved events")
        result = CommandResult(
            stream_id=aggregate.id, version=aggregate.version, position=self._last_position(aggregate.id)
        )
        if self.context is not None and not self.context.recorded:
            self._record(self.context, result)
        self._last = self._companion_rows(result)
        return result

    @abc.abstractmethod
    def _last_position(self, stream_id: str) -> int: ...

    @abc.abstractmethod
    def _save(self, aggregate: Aggregate[Any, Any], metadata: dict[str, Any]) -> list[RecordedEvent]: ...

    @abc.abstractmethod
    def _record(self, context: CommandContext, result: CommandResult) -> None: ...

    @abc.abstractmethod
    def _publish(self, recorded: list[RecordedEvent]) -> None: ...


class DjangoUnitOfWork(AbstractUnitOfWork):
    """A `transaction.atomic` block on the event store's database."""

    def __init__(self, using: str | None = None) -> None:
        self.using = using or settings.EVENTLOG_DATABASE
        self._committed = False

    def __enter__(self) -> Self:
        self._atomic = transaction.atomic(using=self.using)
        self._atomic.__enter__()
        self._store = event_store(self.using)
        self._opened = {}
        self._commands = command_log(self.using)
        self._committed = False
        self._last = []
        self._will_load: tuple[str, int] | None = None
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        written: list[Companion] = []
        if exc_type is None and not self._committed:
            transaction.set_rollback(True, using=self.using)
        elif exc_type is None and self._last:
            try:
                written = self._write_last(connections[self.using])
            except BaseException as error:  # a row or the commit failed: the command's own failure
                self._atomic.__exit__(type(error), error, error.__traceback__)
                raise
        self._atomic.__exit__(exc_type, exc, tb)
        for companion in written:
            companion.written()

    def _write_last(self, connection: BaseDatabaseWrapper) -> list[Companion]:
        """Write the companions' rows; on PostgreSQL the last one's message carries the COMMIT of
        an outermost transaction too (INSERT and COMMIT in one round trip, the append lock
        released with it). Django's commit then finds the transaction closed and sends nothing,
        and runs its on_commit hooks as always. A row that fails is raised: the transaction
        rolls back (the COMMIT behind it never runs) and the command fails with it."""
        commits_here = connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1
        with client_cursor(connection) as cursor:
            for number, (_, (sql, params)) in enumerate(self._last, start=1):
                commit = "; COMMIT" if commits_here and number == len(self._last) else ""
                cursor.execute(f"{sql}{commit}", params)
        return [companion for companion, _ in self._last]

    def handled(self, command_id: str) -> HandledCommand | None:
        """The record of a command id handled before, if any; the stream `will_load` named is
        read along with it where the event store can (the handler's load then finds it read)."""
        statement = None if self._will_load is None else self._store.load_stream_statement(*self._will_load)
        if self._will_load is None or statement is None:
            return self._commands.get(command_id)
        found, rows = self._commands.get_along(command_id, statement)
        if rows is not None:
            self._store.preloaded(*self._will_load, rows)
        return found

    def will_load(self, stream_type: str, aggregate_id: Any) -> None:
        """See AbstractUnitOfWork.will_load: the stream and the state shape its repository loads."""
        repository = cast("EventSourcedRepository[Any]", self.repository(stream_type))
        self._will_load = (repository.stream_id(aggregate_id), repository.state_version)

    def commit(self) -> CommandResult:
        """See AbstractUnitOfWork.commit; the database commit happens when the block exits."""
        result = super().commit()
        self._committed = True
        return result

    def unchanged(self, aggregate: Aggregate[Any, Any]) -> CommandResult:
        """See AbstractUnitOfWork.unchanged; the command record commits with the block."""
        result = super().unchanged(aggregate)
        self._committed = True
        return result

    @property
    def keys(self) -> KeySource:
        """The event store's subject keys (one cache per unit of work)."""
        return self._store.keys

    def forget_subject(self, subject: str) -> bool:
        """See AbstractUnitOfWork.forget_subject."""
        return self._store.keys.forget(subject)

    def streams_with(self, event_type: str, field: str, value: str) -> list[str]:
        """See AbstractUnitOfWork.streams_with."""
        return self._store.streams_with(event_type, field, value)

    def _open_repository(self, stream_type: str) -> Repository[Any]:
        try:
            factory = REPOSITORIES[stream_type]
        except KeyError:
            raise LookupError(f"No repository is registered for stream type {stream_type!r}") from None
        return factory(self._store)

    def _last_position(self, stream_id: str) -> int:
        return self._store.stream_position(stream_id)

    def _save(
        self, aggregate: Aggregate[Any, Any], metadata: dict[str, Any], command: CommandEntry | None = None
    ) -> list[RecordedEvent]:
        owner = cast("EventSourcedRepository[Any]", self.repository(aggregate.stream_type))
        return owner.save(aggregate, metadata, command)

    def _save_recorded(self, aggregate: Aggregate[Any, Any], context: CommandContext | None) -> list[RecordedEvent]:
        """The command's record goes with the append, in its very statement on PostgreSQL."""
        if context is None or context.recorded:
            return self._save(aggregate, context.metadata if context else {})
        entry = CommandEntry(
            command_id=context.command_id, command_type=context.command_type, fingerprint=context.fingerprint
        )
        return self._save(aggregate, context.metadata, entry)

    def _record(self, context: CommandContext, result: CommandResult) -> None:
        self._commands.record(context.command_id, context.command_type, context.fingerprint, result.to_dict())

    def _publish(self, recorded: list[RecordedEvent]) -> None:
        publish_after_commit(recorded, using=self.using)
