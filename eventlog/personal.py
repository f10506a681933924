"""Personal data is stored only sealed with its data subject's key (crypto-shredding).

Guarantee: every value a class declares personal leaves this module only encrypted
(AES-GCM, 256-bit key of the subject), and comes back either as it was, when the subject's
key still exists, or as None once the key was deleted. Deleting one key therefore erases
that subject's data from every stored copy made through here (events, snapshots) without
rewriting an append-only row.

A class declares two ClassVars, read by name so the domain imports nothing from here:
`personal_fields`, dotted paths into its data ("shipping_address.name"), and
`data_subject`, the field naming whose data it is ("customer_id"). The sealed values move
out of their fields (which then hold None) into one envelope per record, under the key
SEALED: `{"key": <key id>, "sealed": <base64 nonce + ciphertext>}`. The key id is the
additional authenticated data, so an envelope cannot be opened under another key.

Data whose personal values are all empty ("" or None) is not sealed (and needs no key):
it says nothing about anyone. Otherwise every personal value that is not None is sealed,
"" included, so that all of them read as None once erased.

Data a command brings (`seal`: an event) is sealed under the subject's key, created if they
have none (a customer forgotten and back gets a new one). Data that may hold what was loaded
(`seal_loaded`: a snapshot of a state) never creates a key: with none left it takes the
null form, as forgetting asked, and under a key other than the one it was loaded under
(the subject was forgotten since, and has a new key for new data) it is not sealed at all,
so nothing read before a forgetting is ever sealed again under a key that outlives it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED = "personal"
KEY_BYTES = 32
_NONCE_BYTES = 12
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


@dataclass(frozen=True, slots=True)
class SubjectKey:
    """One data subject's current key: its id (stored next to what it seals) and secret."""

    key_id: str
    secret: bytes


class KeyReplaced(Exception):
    """The subject's data was loaded under a key that is gone, and they have another now."""


class KeySource(Protocol):
    """Where keys come from: the subject-key table (eventlog/keys.py) or a test's fake."""

    def key_for(self, subject: str) -> SubjectKey:
        """The subject's key, created if the subject has none."""
        ...

    def key_of_loaded(self, subject: str) -> SubjectKey | None:
        """The key to seal data holding what was loaded of the subject under, never created:
        None if the subject has no key; raises KeyReplaced if their key is not the one the
        data was loaded under."""
        ...

    def secrets(self, key_ids: Collection[str]) -> dict[str, bytes]:
        """The secrets of those keys that still exist, in one look-up."""
        ...


def new_secret() -> bytes:
    """A fresh random key for a subject."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def personal_fields(cls: type[Any]) -> tuple[str, ...]:
    """The dotted paths `cls` declares personal (none for most classes)."""
    return tuple(getattr(cls, "personal_fields", ()))


def data_subject(cls: type[Any]) -> str:
    """The field naming whose personal data an instance of `cls` carries ("" if none)."""
    return str(getattr(cls, "data_subject", ""))


def _split_paths(cls: type[Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each personal path of `cls` with its parts, split once per class: the orders projection
    asks `has_personal_data` of every row it writes, and splitting the paths each time was a
    twentieth of its replay (docs/performance-log.md). A class's fields are declared on it."""
    split = _SPLIT_PATHS.get(cls)
    if split is None:
        split = _SPLIT_PATHS[cls] = tuple((path, tuple(path.split("."))) for path in personal_fields(cls))
    return split


_SPLIT_PATHS: dict[type[Any], tuple[tuple[str, tuple[str, ...]], ...]] = {}


def _lookup(data: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    value: Any = data
    for part in parts:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _replace(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` in `data` (copying the nested dicts on the way, so the caller's data is
    never changed); a path whose parent is absent or None is left alone."""
    head, _, rest = path.partition(".")
    if not rest:
        if head in data:
            data[head] = value
        return
    inner = data.get(head)
    if isinstance(inner, Mapping):
        data[head] = copied = dict(inner)
        _replace(copied, rest, value)


def redact(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with every personal field of `cls` set to None (what erased data reads as)."""
    out = dict(data)
    for path in personal_fields(cls):
        _replace(out, path, None)
    return out


def has_personal_data(cls: type[Any], data: Mapping[str, Any]) -> bool:
    """True if any personal field of `cls` holds a value in `data`."""
    return any(_lookup(data, parts) not in (None, "") for _, parts in _split_paths(cls))


def seal(cls: type[Any], data: Mapping[str, Any], keys: KeySource) -> dict[str, Any]:
    """`data` of an instance of `cls` with its personal values sealed under its subject's key."""
    return _sealed(cls, data, keys.key_for)


def seal_loaded(cls: type[Any], data: Mapping[str, Any], keys: KeySource) -> dict[str, Any] | None:
    """`data` (which may hold what was loaded: a snapshot's state) sealed under the key it was
    loaded under; its null form if the subject has no key; None (do not store it) if the
    subject was forgotten since it was loaded and has a new key (see the module docstring)."""
    try:
        return _sealed(cls, data, keys.key_of_loaded)
    except KeyReplaced:
        return None


def _sealed(cls: type[Any], data: Mapping[str, Any], key_of: Callable[[str], SubjectKey | None]) -> dict[str, Any]:
    values = {path: value for path, parts in _split_paths(cls) if (value := _lookup(data, parts)) is not None}
    if not any(values.values()):
        return dict(data)
    subject = data.get(data_subject(cls))
    if not isinstance(subject, str) or not subject:
        raise ValueError(f"{cls.__name__} carries personal data but names no data subject")
    key = key_of(subject)
    if key is None:
        return redact(cls, data)
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(key.secret).encrypt(nonce, _encode(values), key.key_id.encode())
    out = dict(data)
    for path in values:
        _replace(out, path, None)
    out[SEALED] = {"key": key.key_id, "sealed": base64.b64encode(nonce + ciphertext).decode()}
    return out


def key_ids(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """The ids of the keys that sealed these records (to fetch them in one look-up)."""
    return {str(envelope["key"]) for data in records if isinstance(envelope := data.get(SEALED), Mapping)}


def unseal(data: Mapping[str, Any], secrets: Mapping[str, bytes]) -> dict[str, Any]:
    """`data` with its personal values back, or left None when their key is gone."""
    envelope = data.get(SEALED)
    out = {name: value for name, value in data.items() if name != SEALED}
    if not isinstance(envelope, Mapping):
        return out
    key_id = str(envelope["key"])
    secret = secrets.get(key_id)
    if secret is None:
        return out
    raw = base64.b64decode(envelope["sealed"])
    values = _decode(AESGCM(secret).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], key_id.encode()))
    for path, value in values.items():
        _replace(out, path, value)
    return out


def unseal_all(records: Iterable[Mapping[str, Any]], keys: KeySource) -> list[dict[str, Any]]:
    """Unseal a batch with one look-up of every key it needs (none if nothing is sealed)."""
    batch = list(records)
    wanted = key_ids(batch)
    secrets = keys.secrets(wanted) if wanted else {}
    return [unseal(data, secrets) for data in batch]
