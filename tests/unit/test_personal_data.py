"""Personal data: the codec (seal, unseal, redact), the keyed fingerprint, and the rules of
forgetting a customer, with an in-memory key table."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag

from eventlog.personal import SEALED, KeyReplaced, SubjectKey, key_ids, redact, seal, seal_loaded, unseal, unseal_all
from eventlog.serialization import registry
from kernel.errors import IdempotencyKeyReused, InvalidValue
from orders.commands import ChangeShippingAddress, CreateOrder, ForgetCustomer
from orders.customers import customer_stream_id
from orders.errors import CustomerNotFound
from orders.events import CustomerForgotten, OrderCreated, ShippingAddressChanged
from tests.factories import AddressFactory, CreateOrderFactory
from tests.support.fakes import FakeKeys, FakeLog, FakeUnitOfWork
from writeside.bus import MessageBus, audited_payload, fingerprint, payload

EMAIL = "zq-8f3k@example.org"


class Letter:
    personal_fields: ClassVar[tuple[str, ...]] = ("email", "to.name", "to.line2", "cc.name")
    data_subject: ClassVar[str] = "customer_id"


def letter() -> dict[str, Any]:
    return {
        "customer_id": "c-1",
        "email": EMAIL,
        "to": {"name": "Quill Vantor", "line2": "", "city": "Köln"},
        "cc": None,
    }


def test_sealing_moves_personal_values_out_of_sight_and_unsealing_brings_them_back() -> None:
    keys = FakeKeys()
    sealed = seal(Letter, letter(), keys)
    assert EMAIL not in json.dumps(sealed)
    assert "Quill" not in json.dumps(sealed)
    # Not personal, or with an absent parent: left as it was.
    assert (sealed["customer_id"], sealed["to"]["city"], sealed["cc"]) == ("c-1", "Köln", None)
    assert (sealed["email"], sealed["to"]["name"], sealed["to"]["line2"]) == (None, None, None)
    assert unseal_all([sealed], keys) == [letter()]


def test_sealing_leaves_the_callers_data_alone_and_uses_a_fresh_nonce() -> None:
    keys, data = FakeKeys(), letter()
    first, second = seal(Letter, data, keys), seal(Letter, data, keys)
    assert data == letter()
    assert first[SEALED]["sealed"] != second[SEALED]["sealed"]
    assert first[SEALED]["key"] == second[SEALED]["key"]


def test_once_the_key_is_gone_personal_values_read_as_none() -> None:
    keys = FakeKeys()
    sealed = seal(Letter, letter(), keys)
    assert keys.forget("c-1")
    assert unseal_all([sealed], keys) == [redact(Letter, letter())]
    assert not keys.forget("c-1")


def test_an_envelope_opens_only_under_the_key_it_names() -> None:
    keys = FakeKeys()
    sealed = seal(Letter, letter(), keys)
    other = seal(Letter, {**letter(), "customer_id": "c-2"}, keys)
    swapped = {**sealed, SEALED: {**sealed[SEALED], "key": other[SEALED]["key"]}}
    with pytest.raises(InvalidTag):
        unseal(swapped, keys.secrets(key_ids([swapped])))


def test_a_batch_fetches_its_keys_once_and_nothing_when_nothing_is_sealed() -> None:
    keys = FakeKeys()
    batch = [seal(Letter, {**letter(), "customer_id": f"c-{n}"}, keys) for n in range(5)]
    keys.lookups = 0
    unseal_all(batch, keys)
    assert keys.lookups == 1
    unseal_all([{"customer_id": "c-9"}], keys)
    assert keys.lookups == 1


def test_data_without_personal_values_needs_no_key_and_a_subject_is_required() -> None:
    keys = FakeKeys()
    empty = {"customer_id": "c-1", "email": "", "to": {"name": ""}}
    assert seal(Letter, empty, keys) == empty
    assert keys.lookups == 0
    with pytest.raises(ValueError, match="names no data subject"):
        seal(Letter, {"customer_id": "", "email": EMAIL}, keys)


class LoadedKeys(FakeKeys):
    """Keys as a unit of work that loaded data under `loaded` sees them (eventlog/keys.py)."""

    def __init__(self, loaded: SubjectKey | None) -> None:
        super().__init__()
        self.loaded = loaded

    def key_of_loaded(self, subject: str) -> SubjectKey | None:
        key = self.keys.get(subject)
        if key is not None and self.loaded is not None and key != self.loaded:
            raise KeyReplaced(subject)
        return key


def test_sealing_what_was_loaded_creates_no_key_and_never_seals_under_a_newer_one() -> None:
    keys = LoadedKeys(loaded=None)
    assert seal_loaded(Letter, letter(), keys) == redact(Letter, letter())  # no key: the null form
    assert keys.keys == {}
    old = keys.key_for("c-1")
    keys.loaded = old
    sealed = seal_loaded(Letter, letter(), keys)
    assert sealed is not None
    assert sealed[SEALED]["key"] == old.key_id
    keys.forget("c-1")
    keys.key_for("c-1")  # forgotten since the load, and back with a new key
    assert seal_loaded(Letter, letter(), keys) is None


def test_redact_sets_every_personal_field_to_none() -> None:
    assert redact(Letter, letter()) == {
        **letter(),
        "email": None,
        "to": {**letter()["to"], "name": None, "line2": None},
    }


def test_an_order_created_after_forgetting_reads_back_with_nulls() -> None:
    keys = FakeKeys()
    create = CreateOrderFactory(customer_email=EMAIL, shipping_address=AddressFactory())
    data = {
        "order_id": str(create.order_id),
        "customer_id": create.customer_id,
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}],
        "customer_email": EMAIL,
        "shipping_address": dataclasses.asdict(create.shipping_address),
        "billing_address": dataclasses.asdict(create.shipping_address),
    }
    sealed = seal(OrderCreated, data, keys)
    keys.forget(create.customer_id)
    erased = registry.decode("OrderCreated", 2, unseal_all([sealed], keys)[0])
    assert erased.customer_email is None
    assert erased.shipping_address is not None
    assert erased.billing_address is not None
    assert (erased.shipping_address.name, erased.shipping_address.line1, erased.shipping_address.line2) == (None,) * 3
    assert erased.shipping_address.city == create.shipping_address.city


def test_the_fingerprint_of_personal_data_is_keyed_by_the_subjects_key() -> None:
    create = CreateOrderFactory(customer_email=EMAIL)
    plain = hashlib.sha256(json.dumps(["CreateOrder", payload(create)], sort_keys=True).encode()).hexdigest()
    one, other = FakeKeys(), FakeKeys()
    assert fingerprint(create, one) == fingerprint(create, one) != plain
    assert fingerprint(create, one) != fingerprint(create, other)


def test_an_address_change_fingerprint_counts_the_address_keyed_by_the_orders_customer() -> None:
    change = ChangeShippingAddress(order_id=uuid4(), shipping_address=AddressFactory())
    elsewhere = dataclasses.replace(change, shipping_address=dataclasses.replace(change.shipping_address, name="Xy"))
    keys = FakeKeys()
    assert fingerprint(change, keys, "c-1") == fingerprint(change, keys, "c-1")
    assert fingerprint(change, keys, "c-1") != fingerprint(elsewhere, keys, "c-1")
    assert fingerprint(change, keys, "c-1") != fingerprint(change, keys, "c-2")
    # No subject (the order does not exist: the command fails, nothing is recorded): the
    # address is left out rather than hashed in the clear.
    assert fingerprint(change, keys) == fingerprint(elsewhere, keys)


def test_the_audited_payload_keeps_no_personal_value() -> None:
    create = CreateOrderFactory(customer_email=EMAIL, shipping_address=AddressFactory())
    audited = audited_payload(create)
    assert audited["customer_email"] is None
    assert audited["shipping_address"]["name"] is None
    assert audited["shipping_address"]["city"]
    assert create.shipping_address is not None
    assert create.shipping_address.name not in json.dumps(audited)


def test_a_new_address_needs_a_name_and_a_street() -> None:
    nameless = dataclasses.replace(AddressFactory(), name=None)
    with pytest.raises(InvalidValue, match="name"):
        MessageBus(lambda: FakeUnitOfWork()).handle(CreateOrderFactory(shipping_address=nameless))


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def bus(log: FakeLog) -> MessageBus:
    return MessageBus(lambda: FakeUnitOfWork(log))


def test_forgetting_deletes_the_key_and_names_the_customers_orders(log: FakeLog, bus: MessageBus) -> None:
    first, second = CreateOrderFactory(customer_id="c-7", customer_email=EMAIL), CreateOrderFactory(customer_id="c-7")
    bus.handle(first)
    bus.handle(second)
    bus.handle(CreateOrderFactory(customer_id="c-8", customer_email="other@example.org"))
    assert "c-7" in log.keys.keys
    result = bus.handle(ForgetCustomer(customer_id="c-7"))
    assert result.stream_id == customer_stream_id("c-7")
    (forgotten,) = log.streams[result.stream_id]
    assert forgotten == CustomerForgotten(customer_id="c-7", order_ids=(first.order_id, second.order_id))
    assert set(log.keys.keys) == {"c-8"}


def test_forgetting_twice_changes_nothing_until_the_customer_orders_again(log: FakeLog, bus: MessageBus) -> None:
    bus.handle(CreateOrderFactory(customer_id="c-7", customer_email=EMAIL))
    first = bus.handle(ForgetCustomer(customer_id="c-7"))
    again = bus.handle(ForgetCustomer(customer_id="c-7"))
    assert (again.version, again.position) == (first.version, first.position)
    assert len(log.streams[first.stream_id]) == 1
    bus.handle(CreateOrderFactory(customer_id="c-7", customer_email="new@example.org"))
    assert "c-7" in log.keys.keys  # a new key for the new order
    later = bus.handle(ForgetCustomer(customer_id="c-7"))
    assert later.version == 2
    assert "c-7" not in log.keys.keys


def test_forgetting_a_customer_no_order_names_is_refused(log: FakeLog, bus: MessageBus) -> None:
    with pytest.raises(CustomerNotFound):
        bus.handle(ForgetCustomer(customer_id="nobody"))
    assert not log.streams


@pytest.mark.parametrize("customer_id", ["", "   ", "x" * 65, "a\x00b"])
def test_a_malformed_customer_id_is_invalid(bus: MessageBus, customer_id: str) -> None:
    with pytest.raises(InvalidValue, match="customer_id"):
        bus.handle(ForgetCustomer(customer_id=customer_id))


def test_a_retry_after_forgetting_is_refused_not_answered_from_the_erased_record(bus: MessageBus) -> None:
    create = CreateOrderFactory(customer_id="c-7", customer_email=EMAIL)
    bus.handle(create)
    bus.handle(ForgetCustomer(customer_id="c-7"))
    with pytest.raises(IdempotencyKeyReused):
        bus.handle(create)


def test_an_address_change_is_sealed_for_the_orders_customer() -> None:
    assert ShippingAddressChanged.data_subject == "customer_id"
    assert CreateOrder.data_subject == "customer_id"
    assert not ChangeShippingAddress.data_subject
