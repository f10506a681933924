"""The admin's dead-lettered inbound messages page on the real services: a message the
consumer process refused shows with its reason and replays once its cause is fixed, through
the same code as `manage.py inbound_dead_letters --replay`; staff without the page's
permissions see nothing and replay nothing; no broker, or an unreachable one, is said so."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from kombu import Connection, Producer

from eventlog.models import StoredEvent
from integration.consumer import DEAD_AT_HEADER, REASON_HEADER, ROUTING_HEADER
from integration.dead_letters import dead_messages
from tests.factories import InboundEventFactory, PayOrderFactory, UserFactory
from tests.support.inbound import DISPATCHED, confirmed_order, consumer, inbound, payment, send  # noqa: F401
from tests.support.rabbit import AMQP_URL, amqp_names  # noqa: F401 (fixture)
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAGE = "/admin/inbound/"
VIEW, REPLAY = "integration.view_inbounddeadletter", "integration.change_inbounddeadletter"


def signed_in(*permissions: str, csrf: bool = False) -> Client:
    """A staff member with exactly `permissions`; `csrf` makes the client check tokens as a browser must."""
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(UserFactory(is_staff=True, permissions=list(permissions)))
    return client


def dispatch(order_id: Any) -> dict[str, Any]:
    data = {"order_id": str(order_id), "tracking_number": "TRK-42"}
    event: dict[str, Any] = InboundEventFactory.build(type=DISPATCHED, source="/carriers/dhl", data=data)
    return event


def replay_key(row: str) -> str:
    """The key a row's Replay button posts."""
    found = re.search(r'name="key" value="([^"]+)"', row)
    assert found is not None, "no Replay button"
    return found[1]


def waiting_in_inbound_queue() -> int:
    with Connection(AMQP_URL) as connection:
        channel: Any = connection.channel()  # kombu's stub types it as the bare protocol
        return int(channel.queue_declare(settings.INTEGRATION_INBOUND_QUEUE, passive=True).message_count)


def shipped(order_id: Any) -> int:
    return StoredEvent.objects.filter(stream_id=str(order_id), event_type="OrderShipped").count()


def test_a_refused_message_shows_with_its_reason_and_replays_once_after_the_cause_is_fixed(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    order_id, total = confirmed_order()
    early = dispatch(order_id)  # the order is not paid yet: refused for its state
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        before = datetime.now(UTC) - timedelta(seconds=1)
        send(early)
        eventually(lambda: len(dead_messages()) == 1, message="the dispatch to be dead-lettered", log=process.log)
        operator = signed_in(VIEW, REPLAY, csrf=True)
        page = operator.get(PAGE)
        assert page.status_code == 200
        [row] = re.findall(r"<tr>\s*<td>.*?</tr>", page.content.decode(), flags=re.S)
        cells = re.findall(r"<td>(.*?)</td>", row, flags=re.S)
        assert cells[:3] == [DISPATCHED, "/carriers/dhl", early["id"]]
        assert cells[3].startswith("InvalidTransition")
        assert cells[4] == "0"
        assert before <= datetime.fromisoformat(cells[5]) <= datetime.now(UTC)
        assert "TRK-42" in cells[6]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', row)
        assert token is not None, "no Replay button for an operator who may replay"
        key = replay_key(row)

        handle(PayOrderFactory.build(order_id=order_id, amount=total))  # the cause, fixed
        assert operator.post(PAGE, {"key": key}).status_code == 403  # no CSRF token
        assert len(dead_messages()) == 1
        replayed = operator.post(PAGE, {"key": key, "csrfmiddlewaretoken": token[1]}, follow=True)
        assert f"Replayed {early['id']}" in replayed.content.decode()
        eventually(lambda: shipped(order_id) == 1, message="the replayed dispatch", log=process.log)
        later, later_total = confirmed_order()
        send(payment(later, later_total))  # behind the replay: once it applied, the replay was settled
        paid = StoredEvent.objects.filter(stream_id=str(later), event_type="OrderPaid")
        eventually(lambda: paid.count() == 1, message="the later payment", log=process.log)
    finally:
        process.stop()
    assert shipped(order_id) == 1
    assert dead_messages() == []
    assert "None: every inbound message was applied." in signed_in(VIEW).get(PAGE).content.decode()


def dead_letter(message_id: str, order_id: Any, routing_key: str = DISPATCHED) -> bytes:
    """Put a dispatch straight into the dead queue, as the consumer would have (confirmed); its body."""
    headers = {REASON_HEADER: "OrderNotFound: no such order", ROUTING_HEADER: routing_key, DEAD_AT_HEADER: "2026-01-01"}
    body = json.dumps(dispatch(order_id)).encode()
    with Connection(AMQP_URL, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.channel())
        producer.publish(
            body, exchange=settings.INTEGRATION_DEAD_LETTER_EXCHANGE, headers=headers, message_id=message_id
        )
    return body


def inbound_bodies() -> list[bytes]:
    """Take every message waiting in the inbound queue (no consumer runs): their bodies."""
    bodies = []
    with Connection(AMQP_URL) as connection:
        channel: Any = connection.channel()  # kombu's stub types it as the bare protocol
        while (message := channel.basic_get(settings.INTEGRATION_INBOUND_QUEUE, no_ack=True)) is not None:
            bodies.append(bytes(message.body))
    return bodies


@pytest.mark.parametrize("permissions", [(), (VIEW,)], ids=["no permission", "view only"])
def test_staff_without_the_permissions_get_403_and_nothing_is_replayed(
    inbound: dict[str, str],  # noqa: F811
    permissions: tuple[str, ...],
) -> None:
    message_id = "dead-1"
    dead_letter(message_id, "00000000-0000-0000-0000-000000000000")
    assert len(dead_messages()) == 1  # confirmed: routed to the dead queue
    client = signed_in(*permissions)
    page = client.get(PAGE)
    if VIEW in permissions:
        assert page.status_code == 200
        assert message_id in page.content.decode()
        assert "Replay" not in page.content.decode()
    else:
        assert page.status_code == 403
    assert client.post(PAGE, {"key": dead_messages()[0].key}).status_code == 403
    assert [message.message_id for message in dead_messages()] == [message_id]
    assert waiting_in_inbound_queue() == 0


def test_of_two_dead_messages_sharing_an_id_the_one_picked_is_replayed(inbound: dict[str, str]) -> None:  # noqa: F811
    first = dead_letter("shared-id", "11111111-1111-1111-1111-111111111111")
    second = dead_letter("shared-id", "22222222-2222-2222-2222-222222222222")
    operator = signed_in(VIEW, REPLAY)
    rows = re.findall(r"<tr>\s*<td>.*?</tr>", operator.get(PAGE).content.decode(), flags=re.S)
    keys = [replay_key(row) for row in rows]
    assert len(set(keys)) == 2
    replayed = operator.post(PAGE, {"key": keys[1]}, follow=True)
    assert "Replayed shared-id" in replayed.content.decode()
    assert inbound_bodies() == [second]
    [left] = dead_messages()
    assert left.key == keys[0]
    assert left.body == first.decode()


def test_a_replay_the_broker_cannot_route_stays_dead(inbound: dict[str, str]) -> None:  # noqa: F811
    """A dead message whose recorded routing key nothing binds (one from before the consumer
    recorded its own, or a binding since removed) is not acknowledged away."""
    dead_letter("unroutable", "33333333-3333-3333-3333-333333333333", routing_key="nowhere.bound")
    [dead] = dead_messages()
    answer = signed_in(VIEW, REPLAY).post(PAGE, {"key": dead.key}, follow=True).content.decode()
    assert "Not replayed" in answer
    assert "NO_ROUTE" in answer
    with pytest.raises(CommandError, match="still dead"):
        call_command("inbound_dead_letters", replay=dead.key)
    assert dead_messages() == [dead]
    assert waiting_in_inbound_queue() == 0


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}//"


@pytest.mark.parametrize(
    ("url", "says"),
    [("", "No integration broker is configured"), (None, "The integration broker cannot be reached")],
    ids=["not configured", "unreachable"],
)
def test_without_a_reachable_broker_the_page_says_so(settings: Any, url: str | None, says: str) -> None:
    settings.INTEGRATION_BROKER_URL = closed_port_url() if url is None else url
    settings.INTEGRATION_BROKER_TIMEOUT_SECONDS = 1.0
    page = signed_in(VIEW, REPLAY).get(PAGE)
    assert page.status_code == 200
    assert says in page.content.decode()
    replay = signed_in(VIEW, REPLAY).post(PAGE, {"key": "x"}, follow=True)
    assert (replay.status_code, "Replayed" in replay.content.decode()) == (200, False)
