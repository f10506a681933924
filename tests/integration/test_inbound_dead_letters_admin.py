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
from django.test import Client
from kombu import Connection, Producer

from eventlog.models import StoredEvent
from integration.consumer import DEAD_AT_HEADER, REASON_HEADER, ROUTING_HEADER
from integration.dead_letters import dead_messages
from tests.factories import InboundEventFactory, PayOrderFactory, UserFactory
from tests.integration.conftest import eventually
from tests.integration.inbound import DISPATCHED, confirmed_order, consumer, inbound, payment, send  # noqa: F401
from tests.integration.rabbit import AMQP_URL, amqp_names  # noqa: F401 (fixture)
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

        handle(PayOrderFactory.build(order_id=order_id, amount=total))  # the cause, fixed
        assert operator.post(PAGE, {"message_id": early["id"]}).status_code == 403  # no CSRF token
        assert len(dead_messages()) == 1
        replayed = operator.post(PAGE, {"message_id": early["id"], "csrfmiddlewaretoken": token[1]}, follow=True)
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


@pytest.mark.parametrize("permissions", [(), (VIEW,)], ids=["no permission", "view only"])
def test_staff_without_the_permissions_get_403_and_nothing_is_replayed(
    inbound: dict[str, str],  # noqa: F811
    permissions: tuple[str, ...],
) -> None:
    message_id = "dead-1"
    headers = {REASON_HEADER: "OrderNotFound: no such order", ROUTING_HEADER: DISPATCHED, DEAD_AT_HEADER: "2026-01-01"}
    with Connection(AMQP_URL, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.channel())
        body = json.dumps(dispatch("00000000-0000-0000-0000-000000000000")).encode()
        producer.publish(
            body, exchange=settings.INTEGRATION_DEAD_LETTER_EXCHANGE, headers=headers, message_id=message_id
        )
    assert len(dead_messages()) == 1  # confirmed: routed to the dead queue
    client = signed_in(*permissions)
    page = client.get(PAGE)
    if VIEW in permissions:
        assert page.status_code == 200
        assert message_id in page.content.decode()
        assert "Replay" not in page.content.decode()
    else:
        assert page.status_code == 403
    assert client.post(PAGE, {"message_id": message_id}).status_code == 403
    assert [message.message_id for message in dead_messages()] == [message_id]
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
    replay = signed_in(VIEW, REPLAY).post(PAGE, {"message_id": "x"}, follow=True)
    assert (replay.status_code, "Replayed" in replay.content.decode()) == (200, False)
