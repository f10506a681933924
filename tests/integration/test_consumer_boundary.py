"""The inbound consumer against what a partner may send besides well-formed events, on the real
services: a `manage.py consume_inbound` process, the test database and the machine's RabbitMQ.

What the back office promises (docs/integration.md): anything a partner sends is applied or
dead-lettered with a reason, and the consumer never stops because of a message; text no column
can hold is refused at the boundary; the consumer's control headers are its own, so a sender
who sets them changes neither the retries nor the dead-letter tooling nor a replay's route.
"""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.test import Client

from eventlog.models import StoredEvent
from integration.consumer import ATTEMPTS_HEADER, DEAD_AT_HEADER, REASON_HEADER, ROUTING_HEADER
from integration.dead_letters import DeadMessage, dead_messages, replay
from tests.factories import InboundEventFactory, PayOrderFactory, UserFactory
from tests.support.inbound import (  # noqa: F401 (inbound: fixture)
    DISPATCHED,
    PAID,
    confirmed_order,
    consumer,
    database_proxy,
    events_of,
    inbound,
    payment,
    send,
)
from tests.support.rabbit import amqp_names  # noqa: F401 (fixture)
from tests.support.services import Service
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Every header a sender could forge to steer the consumer or its tooling.
FORGED = {
    ATTEMPTS_HEADER: "once",
    REASON_HEADER: "forged",
    DEAD_AT_HEADER: "forged",
    ROUTING_HEADER: "nowhere.bound",
}


def dead_about(order_id: UUID) -> DeadMessage:
    """The one dead message whose data names `order_id`."""
    [dead] = [message for message in dead_messages() if str(order_id) in message.data_preview]
    return dead


def still_running(process: Service) -> None:
    assert process.process is not None
    assert process.process.poll() is None, "the consumer exited"


def the_tooling_lists(count: int) -> None:
    """The admin's page and `manage.py inbound_dead_letters` both list `count` dead messages."""
    operator = Client()
    operator.force_login(UserFactory(is_staff=True, permissions=["integration.view_inbounddeadletter"]))
    page = operator.get("/admin/inbound/")
    assert page.status_code == 200
    assert len(re.findall(r"<tr>\s*<td>", page.content.decode())) == count
    out = StringIO()
    call_command("inbound_dead_letters", stdout=out)
    assert len(out.getvalue().splitlines()) == count


def test_text_no_column_holds_and_an_unforeseen_failure_are_dead_lettered_while_the_consumer_goes_on(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    def paying(**changes: Any) -> tuple[UUID, dict[str, Any]]:
        """A confirmed order and its payment of the right amount, but for `changes`."""
        order_id, total = confirmed_order()
        return order_id, payment(order_id, total, **changes)

    refused = {
        "source: contains a NUL character": paying(source="/payments/\x00psp"),
        "source: contains a lone surrogate U+D800": paying(source="/payments/\ud800"),
        # Recorded as the user `integration:<source>`: the audit's column is sized for 255.
        "source: longer than 255 characters": paying(source="/" + "p" * 255),
        "id: contains a NUL character": paying(id="pay-\x00-1"),
        "id: contains a lone surrogate U+DC00": paying(id="pay-\udc00-1"),
        "subject: contains a NUL character": paying(subject="order\x00"),
        "data.payment_id: contains a NUL character": paying(data={"payment_id": "pay-\x00"}),
        "data.note: contains a lone surrogate U+D83D": paying(data={"note": "\ud83d"}),
    }
    send(*(message for _, message in refused.values()))
    # JSON nested deeper than the parser's recursion limit: an exception nobody foresaw.
    send(b'{"specversion": "1.0", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        later, later_total = confirmed_order()
        send(payment(later, later_total))  # behind the others: once it applied, they were settled
        eventually(lambda: len(events_of("OrderPaid", later)) == 1, message="the later payment", log=process.log)
        still_running(process)
    finally:
        process.stop()
    for reason, (order_id, _) in refused.items():
        assert dead_about(order_id).reason == reason
        assert events_of("OrderPaid", order_id) == []
    [unforeseen] = [message for message in dead_messages() if message.reason.startswith("RecursionError")]
    assert unforeseen.routing_key == PAID
    the_tooling_lists(len(refused) + 1)


def test_control_headers_a_sender_sets_change_nothing_in_the_dead_letter_tooling_or_a_replay(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    order_id, total = confirmed_order()
    early = InboundEventFactory.build(
        type=DISPATCHED, source="/carrier", data={"order_id": str(order_id), "tracking_number": "TRK-7"}
    )
    send(b"this is not JSON", early, headers=FORGED)
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        eventually(lambda: len(dead_messages()) == 2, message="two dead messages", log=process.log)
        the_tooling_lists(2)
        malformed = next(message for message in dead_messages() if message.message_id != early["id"])
        assert malformed.reason.startswith("not a CloudEvents 1.0 JSON event")
        assert (malformed.routing_key, malformed.attempts) == (PAID, 0)
        dispatch = dead_about(order_id)
        assert dispatch.reason.startswith("InvalidTransition")
        assert (dispatch.routing_key, dispatch.attempts) == (DISPATCHED, 0)

        handle(PayOrderFactory.build(order_id=order_id, amount=total))  # the cause, fixed
        assert replay(dispatch.key)
        eventually(lambda: len(events_of("OrderShipped", order_id)) == 1, message="the replay", log=process.log)
    finally:
        process.stop()
    assert [message.key for message in dead_messages()] == [malformed.key]


def test_a_sender_set_attempt_count_neither_crashes_the_consumer_nor_skips_the_retries(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    counts = {-10: confirmed_order(), 99: confirmed_order()}
    with database_proxy() as (postgres, url):
        # Delays long enough after the second for both messages to be waiting when it is restored.
        process = consumer(tmp_path, inbound, DATABASE_URL=url, INTEGRATION_RETRY_DELAYS_SECONDS="0.2,0.4,2,4,8")
        process.start()
        try:
            postgres.cut()
            second_delays = []
            for count, (order_id, total) in counts.items():
                message = payment(order_id, total)
                send(message, headers={ATTEMPTS_HEADER: count})
                # Our delays (0.2 s, then 0.4 s...): the second means the count began at none.
                second_delays.append(f"inbound message {message['id']} retried in 0.4s")
            eventually(
                lambda: all(line in process.log.read_text() for line in second_delays),
                message="each message's second delay",
                log=process.log,
            )
            postgres.restore()
            paid = StoredEvent.objects.filter(event_type="OrderPaid")
            eventually(lambda: paid.count() == len(counts), message="both payments", log=process.log)
            still_running(process)
        finally:
            process.stop()
    assert dead_messages() == []
