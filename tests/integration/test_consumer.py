"""The inbound consumer on the real services: a `manage.py consume_inbound` process on the test
database and the machine's RabbitMQ, fed like a payment provider or carrier would feed it.

What a sender may rely on (docs/events.md): a message is applied once however often it is
delivered, a refused one lands in the dead queue with its reason while the rest go on, a
killed consumer loses nothing and applies nothing twice, and an unreachable database is
waited out with growing delays.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest

from eventlog.models import StoredEvent
from integration.dead_letters import dead_messages, replay
from tests.factories import InboundEventFactory
from tests.support.inbound import (  # noqa: F401 (inbound: fixture)
    DISPATCHED,
    confirmed_order,
    consumer,
    database_proxy,
    events_of,
    inbound,
    payment,
    send,
)
from tests.support.rabbit import amqp_names  # noqa: F401 (fixture)
from tests.support.services import ROOT, Service, service_env
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_payment_delivered_three_times_pays_the_order_once(inbound: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    order_id, total = confirmed_order()
    message = payment(order_id, total, source="/payments/stripe")
    send(message, message, message)
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        later, later_total = confirmed_order()
        send(payment(later, later_total))  # behind the three copies: once it applied, they were settled
        eventually(lambda: len(events_of("OrderPaid", later)) == 1, message="the later payment", log=process.log)
    finally:
        process.stop()
    [paid] = events_of("OrderPaid", order_id)
    assert paid.data["amount"] == str(total)
    assert (paid.metadata["source"], paid.metadata["user"]) == ("integration", "integration:/payments/stripe")
    assert dead_messages() == []


def test_refused_and_malformed_messages_are_dead_lettered_with_a_reason_and_the_consumer_goes_on(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    order_id, total = confirmed_order()
    refused = {
        "unknown order": payment(uuid4(), total),
        "bad amount": payment(order_id, total + 1),
        "wrong currency": payment(order_id, total, data={"currency": "USD"}),
        "wrong state": InboundEventFactory.build(
            type=DISPATCHED, source="/carrier", data={"order_id": str(order_id), "tracking_number": "TRK-9"}
        ),
        "unknown type": InboundEventFactory.build(type="payment.disputed.v1", data={"order_id": str(order_id)}),
        "invalid data": payment(order_id, "ten euros"),  # type: ignore[arg-type]
    }
    send(*refused.values())
    send(b"this is not JSON", b'{"specversion": "1.0", "id": "x"}')  # no source or type: not a CloudEvent
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        send(payment(order_id, total))
        eventually(lambda: len(events_of("OrderPaid", order_id)) == 1, message="the valid payment", log=process.log)
        eventually(lambda: len(dead_messages()) == 8, message="eight dead messages", log=process.log)
        dead = {message.message_id: message for message in dead_messages()}
        reasons = {name: dead[event["id"]].reason for name, event in refused.items()}
        assert reasons["unknown order"].startswith("OrderNotFound")
        assert reasons["bad amount"].startswith("BusinessRuleViolated")
        assert reasons["wrong currency"].startswith("BusinessRuleViolated")
        assert reasons["wrong state"].startswith("InvalidTransition")
        assert reasons["unknown type"] == "unknown type 'payment.disputed.v1'"
        assert reasons["invalid data"].startswith("invalid data:")
        assert "amount" in reasons["invalid data"]
        named = {event["id"] for event in refused.values()}
        unnamed = [message.reason for message in dead_messages() if message.message_id not in named]
        assert len(unnamed) == 2
        assert all(reason.startswith("not a CloudEvents 1.0 JSON event") for reason in unnamed)

        # The order is paid now: the dispatch refused for its state applies when replayed.
        assert replay(dead[refused["wrong state"]["id"]].key)
        eventually(lambda: len(events_of("OrderShipped", order_id)) == 1, message="the replay", log=process.log)
        assert len(dead_messages()) == 7
    finally:
        process.stop()
    assert len(events_of("OrderPaid", order_id)) == 1


def test_a_consumer_killed_mid_burst_loses_nothing_and_applies_nothing_twice(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    orders = [confirmed_order() for _ in range(100)]
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        send(*(payment(order_id, total) for order_id, total in orders))
        paid = StoredEvent.objects.filter(event_type="OrderPaid")
        eventually(lambda: paid.count() >= 20, message="part of the burst", log=process.log)
        process.kill()
        assert paid.count() < 100, "the burst ended before the kill: nothing was tested"
        process.start()
        eventually(lambda: paid.count() >= 100, timeout=60, message="the whole burst", log=process.log)
    finally:
        process.stop()
    assert sorted(paid.values_list("stream_id", flat=True)) == sorted(str(order_id) for order_id, _ in orders)
    assert dead_messages() == []


def test_an_unreachable_database_is_retried_with_growing_delays_then_the_message_applies(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    order_id, total = confirmed_order()
    with database_proxy() as (postgres, url):
        process = consumer(tmp_path, inbound, DATABASE_URL=url, INTEGRATION_RETRY_DELAYS_SECONDS="0.5,1,2,4,8,16")
        process.start()
        try:
            postgres.cut()
            send(payment(order_id, total))
            eventually(
                lambda: "retried in 1.0s" in process.log.read_text(), message="a second, longer delay", log=process.log
            )
            assert events_of("OrderPaid", order_id) == []
            postgres.restore()
            eventually(lambda: len(events_of("OrderPaid", order_id)) == 1, message="the payment", log=process.log)
        finally:
            process.stop()
    assert dead_messages() == []


def test_a_database_down_past_the_last_delay_dead_letters_the_message(inbound: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    order_id, total = confirmed_order()
    with database_proxy() as (postgres, url):
        process = consumer(tmp_path, inbound, DATABASE_URL=url)
        process.start()
        try:
            postgres.cut()
            message = payment(order_id, total)
            send(message)
            eventually(lambda: len(dead_messages()) == 1, message="the message to give up", log=process.log)
        finally:
            process.stop()
    [dead] = dead_messages()
    assert (dead.message_id, dead.attempts) == (message["id"], 2)
    assert dead.reason.startswith("gave up after 3 attempts: OperationalError")
    assert events_of("OrderPaid", order_id) == []


def test_with_no_broker_configured_the_consumer_says_it_is_off(tmp_path: Path) -> None:
    env = service_env(INTEGRATION_BROKER_URL="")
    args = [sys.executable, "-u", "manage.py", "consume_inbound"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.decode().splitlines()) == (
        0,
        ["integration consumer off: INTEGRATION_BROKER_URL is not set"],
    )
    # The Procfile's line stays up (honcho would stop `make up` if it exited) until told to stop.
    idle = Service([*args, "--idle-when-off"], tmp_path / "idle.log", "integration consumer off", env)
    idle.start()
    assert idle.process is not None
    assert idle.process.poll() is None
    idle.stop()
    assert idle.process.returncode == 0
