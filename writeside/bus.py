"""The message bus: runs each command's handler in a unit of work, idempotently, with retries,
through a chain of middleware (settings.COMMAND_MIDDLEWARE: logging, metrics, audit), so every
command tried passes the same chain whoever sent it and handlers stay plain.

Which function handles which command is registered by each context from its AppConfig
(`register_handlers`): the bus imports none of them."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eventlog.idempotency import DuplicateCommand
from eventlog.personal import KeySource, data_subject, has_personal_data, redact
from eventlog.store import StreamVersionConflict
from kernel.errors import ConcurrencyConflict, DomainError, IdempotencyKeyReused
from pipeline.chain import chain, configured_middleware
from writeside.commands import Command
from writeside.pipeline import Dispatch, Middleware, Next
from writeside.unit_of_work import AbstractUnitOfWork, CommandContext, CommandResult, DjangoUnitOfWork

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 5

# A handler: a plain function `(command, uow) -> CommandResult`.
Handler = Callable[[Any, AbstractUnitOfWork], CommandResult]

# Command type -> its one handler; filled by the contexts' AppConfig.ready().
HANDLERS: dict[type[Command], Handler] = {}


def register_handlers(handlers: Mapping[type[Command], Handler]) -> None:
    """Add a context's handlers; a command type has one handler, so a second is refused."""
    for command_type, handler in handlers.items():
        if HANDLERS.get(command_type, handler) is not handler:
            raise RuntimeError(f"{command_type.__name__} has a handler already: {HANDLERS[command_type]!r}")
    HANDLERS.update(handlers)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def payload(command: Command) -> dict[str, Any]:
    """The command's own fields, JSON-ready, leaving out ids and metadata.

    A field marked `"fingerprint": "when_given"` counts only when it is not None, so commands
    recorded before it existed keep their fingerprints.
    """
    fields = {
        f.name: getattr(command, f.name)
        for f in dataclasses.fields(command)
        if f.metadata.get("fingerprint", True) is True
        or (f.metadata.get("fingerprint") == "when_given" and getattr(command, f.name) is not None)
    }
    loaded: dict[str, Any] = json.loads(json.dumps(fields, sort_keys=True, default=_jsonable))
    return loaded


def dispatch_payload(dispatch: Dispatch) -> dict[str, Any]:
    """`payload(dispatch.command)`, computed once per dispatch: the fingerprint and the audit
    row both need it (each use copies before changing anything, see eventlog.personal.redact)."""
    if dispatch.payload is None:
        dispatch.payload = payload(dispatch.command)
    return dispatch.payload


def audited_payload(command: Command, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The payload the audit trail keeps: personal fields None (the log has them, sealed).
    `data` is the command's `payload` when the caller has it already."""
    return redact(type(command), payload(command) if data is None else data)


def fingerprint(command: Command, keys: KeySource, subject: str | None = None) -> str:
    """Hash of the command's type and payload, leaving out ids and metadata (see
    `payload_fingerprint`)."""
    return payload_fingerprint(type(command), payload(command), keys, subject)


def payload_fingerprint(cls: type[Command], data: dict[str, Any], keys: KeySource, subject: str | None = None) -> str:
    """Hash of a command's type and `payload`, every field of it counted.

    A plain hash of personal data could be reversed by guessing (try every e-mail), so a
    command carrying some is hashed with HMAC under its subject's key: once the subject is
    forgotten, nobody can test a guess against the record. A command that names no subject
    (ChangeShippingAddress names an order, not its customer) is keyed with `subject`, the
    subject of the aggregate it loads (`loaded_subject`); only without one (that aggregate
    does not exist, so the command fails and nothing is recorded) are its personal fields
    left out.
    """
    if not has_personal_data(cls, data):
        return hashlib.sha256(json.dumps([cls.__name__, data], sort_keys=True).encode()).hexdigest()
    subject = data.get(data_subject(cls)) or subject
    if not subject:
        text = json.dumps([cls.__name__, redact(cls, data)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
    key = keys.key_for(str(subject))
    return hmac.new(key.secret, json.dumps([cls.__name__, data], sort_keys=True).encode(), hashlib.sha256).hexdigest()


def loaded_subject(command: Command, data: dict[str, Any], uow: AbstractUnitOfWork) -> str | None:
    """The subject of a command's personal data when the command does not name it: that of
    the aggregate it `loads` (None if it names it, carries none, or loads nothing)."""
    cls = type(command)
    if cls.loads is None or data_subject(cls) or not has_personal_data(cls, data):
        return None
    stream_type, field = cls.loads
    return uow.data_subject_of(stream_type, getattr(command, field))


def event_metadata(command: Command) -> dict[str, Any]:
    """The metadata every event appended by `command` carries."""
    meta = command.metadata
    return {
        "correlation_id": str(meta.correlation_id),
        "causation_id": str(meta.causation_id) if meta.causation_id else command.command_id,
        "command_id": command.command_id,
        "command_type": type(command).__name__,
        "user": meta.user,
        "source": meta.source,
    }


class MessageBus:
    """Dispatches a command through its middleware to its one handler, in a fresh unit of work."""

    def __init__(
        self,
        uow_factory: Callable[[], AbstractUnitOfWork] = DjangoUnitOfWork,
        handlers: Mapping[type[Command], Handler] = HANDLERS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self.uow_factory = uow_factory
        self.handlers = handlers
        self.max_attempts = max_attempts
        self._chain: Next = chain(middleware, self._run)

    def handle(self, command: Command) -> CommandResult:
        """Run the command through the middleware; see `_run` for what the core does."""
        return self._chain(Dispatch(command=command, command_type=type(command).__name__))

    def _run(self, dispatch: Dispatch) -> CommandResult:
        """Run the command; a conflict with a concurrent writer is retried on fresh state.

        A command id seen before returns the first result (`dispatch.duplicate`), or raises
        IdempotencyKeyReused if the payload differs; one that `reruns_on_retry` runs again
        (its record stays the first). Raises ConcurrencyConflict once retries
        are used up.
        """
        command = dispatch.command
        handler = self.handlers[type(command)]
        command_type = type(command).__name__
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.uow_factory() as uow:
                    # The record look-up goes first: it carries the transaction's BEGIN, and the
                    # read of the stream the command names (eventlog/postgres.py); a key for the
                    # fingerprint comes after it.
                    if (target := type(command).loads) is not None:
                        uow.will_load(target[0], getattr(command, target[1]))
                    previous = uow.handled(command.command_id)
                    context = self._context(command, uow, dispatch)
                    if previous is not None:
                        if previous.fingerprint != context.fingerprint:
                            raise IdempotencyKeyReused(
                                f"Command id {command.command_id!r} was already used with a different request"
                            )
                        if not type(command).reruns_on_retry:
                            dispatch.duplicate = True
                            return CommandResult.from_dict(previous.result)
                        context = dataclasses.replace(context, recorded=True)
                    uow.context = context
                    return handler(command, uow)
            except IdempotencyKeyReused:
                raise
            except DomainError:
                # The refusal may be this very command's own effect: a twin with the same id
                # committed between our look-up of its record and our read of the stream (the
                # order is already cancelled, say). Then the twin's record is the answer.
                twin = self._recorded_twin(command)
                if twin is None:
                    raise
                dispatch.duplicate = True
                return twin
            except (StreamVersionConflict, DuplicateCommand) as conflict:
                logger.info("Attempt %d of %s conflicted: %s", attempt, command_type, conflict)
                if attempt < self.max_attempts:
                    # Jitter spreads racing writers apart so the retry is likely to win.
                    time.sleep(random.uniform(0, 0.002 * attempt))
        raise ConcurrencyConflict(
            f"{command_type} kept conflicting with concurrent changes after {self.max_attempts} attempts"
        )

    @staticmethod
    def _context(command: Command, uow: AbstractUnitOfWork, dispatch: Dispatch | None = None) -> CommandContext:
        """The command as its unit of work records it; built inside the unit of work because
        the fingerprint of personal data takes the subject's key from it (and so a key
        created for it commits or rolls back with the command)."""
        data = payload(command) if dispatch is None else dispatch_payload(dispatch)
        return CommandContext(
            command_id=command.command_id,
            command_type=type(command).__name__,
            fingerprint=payload_fingerprint(type(command), data, uow.keys, loaded_subject(command, data, uow)),
            metadata=event_metadata(command),
            companions=tuple(dispatch.in_transaction) if dispatch is not None else (),
        )

    def _recorded_twin(self, command: Command) -> CommandResult | None:
        """The result recorded for this command id by a twin with the same payload, if any."""
        with self.uow_factory() as uow:
            previous = uow.handled(command.command_id)
            if previous is None or previous.fingerprint != self._context(command, uow).fingerprint:
                return None
        return CommandResult.from_dict(previous.result)


_default_bus: MessageBus | None = None


def handle(command: Command) -> CommandResult:
    """Handle a command with the default bus (Django unit of work, the configured middleware),
    built on first use: the middleware modules import this one."""
    global _default_bus
    if _default_bus is None:
        _default_bus = MessageBus(middleware=configured_middleware("COMMAND_MIDDLEWARE"))  # type: ignore[arg-type]
    return _default_bus.handle(command)
