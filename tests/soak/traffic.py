"""Steady traffic as clients and partners send it, and what each order must end as.

A client sends every command with an Idempotency-Key and, when the answer does not come (a
time-out, a refused connection, a 5xx or 503 while a service is cut), sends the same request
with the same key again until it gets an answer that decides it: that is what the key is for,
and it is why an order the client was told about must exist exactly once whatever was cut.
A partner publishes payment and shipment events to RabbitMQ directly (its own connection,
not the stack's), some of them twice, some hostile (text PostgreSQL cannot store): the hostile
ones must be dead-lettered and change nothing.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
from kombu import Connection, Exchange, Producer

# How long a client keeps retrying one command before it gives up (and counts it).
GIVE_UP_SECONDS = 90.0
TIMEOUT_SECONDS = 10.0
SKUS = ("SOAK-A", "SOAK-B", "SOAK-C")  # no product tracks them: a confirmed order is payable at once


@dataclass
class Tally:
    """What the clients did and saw; shared by the client threads under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    given_up: list[str] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)  # order id -> the status it must end in
    inbound_sent: Counter[str] = field(default_factory=Counter)
    hostile: list[str] = field(default_factory=list)  # order ids a hostile message named

    def commands(self) -> int:
        """Commands answered so far (read while the clients still add to it)."""
        with self.lock:
            return sum(self.answers.values())


class Client:
    """One API client: a token, and commands retried with their key until they are decided."""

    def __init__(self, base: str, token: str, tally: Tally) -> None:
        self.base, self.tally = base, tally
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})

    def command(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST with a fresh Idempotency-Key, repeated with that key until decided; the 2xx body,
        or None for a definitive refusal (4xx) or giving up."""
        key = str(uuid.uuid4())
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while True:
            status: int | str
            try:
                response = self.session.post(
                    self.base + path, json=body, headers={"Idempotency-Key": key}, timeout=TIMEOUT_SECONDS
                )
                status = response.status_code
            except requests.RequestException as error:
                status = type(error).__name__
            if isinstance(status, int) and status < 500 and status != 429:
                with self.tally.lock:
                    self.tally.answers[str(status)] += 1
                return response.json() if status < 300 else None
            if time.monotonic() > deadline:
                with self.tally.lock:
                    self.tally.given_up.append(f"POST {path}: last answer {status}")
                return None
            with self.tally.lock:
                self.tally.retries += 1
            time.sleep(0.5)


class Partner:
    """A payment provider and a carrier publishing to the inbound exchange."""

    def __init__(self, amqp_url: str, exchange: str, tally: Tally) -> None:
        self.connection = Connection(amqp_url, transport_options={"confirm_publish": True})
        self.producer = Producer(self.connection.channel(), exchange=Exchange(exchange, type="topic", durable=True))
        self.tally = tally
        self.lock = threading.Lock()

    def send(self, kind: str, data: dict[str, Any], *, source: str = "/soak", copies: int = 1) -> None:
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": source,
            "type": kind,
            "time": "2026-12-06T12:00:00Z",
            "datacontenttype": "application/json",
            "data": data,
        }
        with self.lock:
            for _ in range(copies):
                self.producer.publish(
                    json.dumps(event).encode(),
                    routing_key=kind,
                    content_type="application/cloudevents+json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=event["id"],
                    retry=True,
                )
                self.tally.inbound_sent[kind] += 1

    def close(self) -> None:
        self.connection.release()


def order_story(client: Client, partner: Partner, rng: random.Random, hostile_rate: float) -> None:
    """One order taken along a random path; records the status it must end in."""
    tally = client.tally
    priced = [
        (sku, rng.randint(1, 3), Decimal(rng.randint(100, 9999)) / 100) for sku in rng.sample(SKUS, rng.randint(1, 3))
    ]
    lines = [{"sku": sku, "quantity": quantity, "unit_price": f"{price:.2f}"} for sku, quantity, price in priced]
    total = sum((price * quantity for _, quantity, price in priced), Decimal("0"))
    created = client.command(
        "/api/orders/", {"customer_id": f"soak-{rng.randrange(50)}", "currency": "EUR", "items": lines}
    )
    if created is None:
        return
    order_id = created["order_id"]
    status = "PENDING"

    def record() -> None:
        with tally.lock:
            tally.expected[order_id] = status

    record()
    path = rng.random()
    if path < 0.1:
        if client.command(f"/api/orders/{order_id}/cancel/", {"reason": "soak"}) is not None:
            status = "CANCELLED"
        return record()
    if client.command(f"/api/orders/{order_id}/confirm/", {}) is None:
        return None
    status = "CONFIRMED"
    record()
    if path < 0.2:
        return None
    payment = {"order_id": order_id, "payment_id": f"pay-{order_id[:8]}", "amount": f"{total:.2f}", "currency": "EUR"}
    if path < 0.45:
        # Paid through the partner, sometimes twice: applied once, whatever the consumer sees.
        partner.send("payment.captured.v1", payment, copies=2 if rng.random() < 0.3 else 1)
        status = "PAID"
        return record()
    body = {"payment_id": payment["payment_id"], "amount": payment["amount"]}
    if client.command(f"/api/orders/{order_id}/pay/", body) is None:
        return None
    status = "PAID"
    record()
    if path < 0.55:
        if client.command(f"/api/orders/{order_id}/cancel/", {"reason": "soak"}) is not None:
            status = "CANCELLED"
        return record()
    if rng.random() < hostile_rate:
        # Text PostgreSQL refuses: dead-lettered with a reason, the order stays as it is.
        partner.send("shipment.dispatched.v1", {"order_id": order_id, "tracking_number": "TRK"}, source="/soak\x00")
        with tally.lock:
            tally.hostile.append(order_id)
        return None
    partner.send("shipment.dispatched.v1", {"order_id": order_id, "tracking_number": f"TRK-{order_id[:6]}"})
    status = "SHIPPED"
    return record()


def drive(
    tally: Tally,
    base: str,
    token: str,
    amqp_url: str,
    exchange: str,
    stop: threading.Event,
    seed: int,
    clients: int,
    rate: float,
    hostile_rate: float,
) -> None:
    """`clients` threads, each starting about `rate` orders a second, until `stop` is set;
    what they do and see goes in `tally` as it happens."""
    partner = Partner(amqp_url, exchange, tally)

    def run(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        client = Client(base, token, tally)
        while not stop.is_set():
            started = time.monotonic()
            order_story(client, partner, rng, hostile_rate)
            stop.wait(max(0.0, 1 / rate - (time.monotonic() - started)))

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(GIVE_UP_SECONDS + 30)
    partner.close()
