"""The base of every command: an idempotency key, who asked and from where, and an optional
pinned version. Commands are frozen dataclasses named in the imperative."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar
from uuid import UUID, uuid4


def _new_command_id() -> str:
    return str(uuid4())


@dataclass(frozen=True, kw_only=True)
class CommandMetadata:
    """Who asked, from where, and which story the command belongs to."""

    correlation_id: UUID = field(default_factory=uuid4)
    causation_id: UUID | None = None
    user: str | None = None
    source: str = "api"


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every command.

    `command_id` is the idempotency key: a command id seen before returns the first
    result, unless the command `reruns_on_retry` (below). `expected_version` pins the stream
    version (If-Match); unset, the bus retries a conflicting command on fresh state.

    `loads` names the stream the handler reads first (see below).

    `personal_fields` and `data_subject` say which fields are personal data and whose, as on
    events (kernel/events.py): the audit trail stores them as None, and the command
    record's fingerprint covers them only through a hash keyed with the subject's key.
    """

    personal_fields: ClassVar[tuple[str, ...]] = ()
    data_subject: ClassVar[str] = ""
    # The aggregate its handler loads, as (stream type, the field holding the aggregate's id),
    # when the command names it: the unit of work then reads that stream in the transaction's
    # first round trip, with the idempotency look-up. None: the handler finds it out itself.
    loads: ClassVar[tuple[str, str] | None] = None
    # True for a command whose effect is a state to reach ("the customer is forgotten now"),
    # not a change to make once: a retry with its command id (and the same payload) runs
    # again, changing only what is new since, and its handler answers "unchanged" when
    # nothing is; its first record stays. The first answer would be stale otherwise.
    reruns_on_retry: ClassVar[bool] = False

    command_id: str = field(default_factory=_new_command_id, metadata={"fingerprint": False})
    metadata: CommandMetadata = field(default_factory=CommandMetadata, metadata={"fingerprint": False})
    expected_version: int | None = field(default=None, metadata={"fingerprint": False})
