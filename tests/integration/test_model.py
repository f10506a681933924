"""A model-based test of the whole back office: a Hypothesis rule-based state machine drives the
real bus, event store and projection engine on PostgreSQL, and the relay on RabbitMQ, with a
small in-memory model beside them (backoffice_model.py), and interleaves what the features do
to each other (model_rules.py, model_engine_rules.py): commands on orders and products,
forgetting customers, snapshots every few events, inbound messages (duplicated, out of order,
for unknown or cancelled orders, hostile), payment deadlines falling due at different times
with the checker run at chosen moments and payments racing it, a projection bug with its dead
letters retried or skipped, checkpoint rewinds (the relay's too), rebuilds in place and
blue/green, and the integration broker cut and restored under the relay, alone or sharing a
batch with the read models.

After each step (model_invariants.py): every order and product served equals the model's;
every snapshotted aggregate loads as its whole stream replays; while the broker is up every
public event reached a partner's queue once in effect; and every few steps and at the end the
books verify.

Profiles: "ci" (the default, a few short runs, part of `make test`) and "long"
(`make test-model`); HYPOTHESIS_PROFILE picks one. docs/reliability.md has the last long run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from projector.rebuild_progress import rebuild_by_name
from tests.integration.model_engine_rules import BrokerRules, ClockRules, EngineRules
from tests.integration.model_invariants import Invariants
from tests.integration.model_levers import BROKEN_ORDERS, ORDERS, BrokenOrders, FlakyBroker, fresh_publisher
from tests.integration.model_machine import MachineBase
from tests.integration.model_rules import ProductRules
from tests.support.faults import TcpProxy
from tests.support.rabbit import AMQP_URL, amqp_names  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# No explain phase: it traces every line of the product, minutes per failing example. The
# short profile does not shrink either: shrinking a failure takes minutes, past `make test`'s
# per-test timeout, so it prints the whole failing run instead; the long profile shrinks.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
BASE = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None, phases=PHASES)
SHORT = settings(BASE, derandomize=True, phases=PHASES[:-1])
settings.register_profile("ci", SHORT, max_examples=7, stateful_step_count=25)
settings.register_profile("seams", SHORT, max_examples=3, stateful_step_count=8)
# MODEL_EXAMPLES shortens the long profile for a run that has less time.
LONG_EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "200"))
settings.register_profile("long", BASE, max_examples=LONG_EXAMPLES, stateful_step_count=50)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# The short profile verifies the books less often within an example (always at its end):
# `make test` stays bounded.
VERIFY_EVERY = {"ci": 10}.get(PROFILE, 5)


class BackOffice(EngineRules, BrokerRules, ClockRules, ProductRules, Invariants):
    """The back office and its model, side by side, with every rule set and check."""

    def teardown(self) -> None:
        """The bug fixed and replayed, the broker back: then the books must verify in full."""
        BrokenOrders.poisoned.clear()
        try:
            if self.blocked:
                self.fix_and_retry()
            if self.skipped:
                rebuild_by_name([])
                self.replayed()
        finally:
            super().teardown()


class WhereTheyMeet(ClockRules, BrokerRules, Invariants):
    """Only the deadlines falling due and the broker failing under the relay, with every
    check: among all the rules above each is drawn about once an example, here at every step."""


@pytest.fixture
def broker(settings: Any, amqp_names: dict[str, str]) -> Iterator[FlakyBroker]:  # noqa: F811 (fixture)
    """The relay configured as `make up` configures it (amqp_names), publishing to this test's
    exchange on the machine's RabbitMQ through a proxy the rules cut. After a failed publish
    the relay backs off (as configured, without touching the broker) until the broker is back."""
    with TcpProxy("127.0.0.1", urlsplit(AMQP_URL).port or 5672) as proxy:
        parts = urlsplit(AMQP_URL)
        credentials = parts.netloc.rpartition("@")[0]
        settings.INTEGRATION_BROKER_URL = parts._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}").geturl()
        settings.INTEGRATION_BROKER_TIMEOUT_SECONDS = 2.0
        settings.INTEGRATION_PUBLISH_BACKOFF_SECONDS = 60.0
        settings.INTEGRATION_PUBLISH_BACKOFF_MAX_SECONDS = 60.0
        flaky = FlakyBroker(proxy, amqp_names["INTEGRATION_EVENTS_EXCHANGE"])
        try:
            yield flaky
        finally:
            flaky.close()
            fresh_publisher()


@pytest.fixture
def model_settings(settings: Any, broker: FlakyBroker) -> None:
    """The configuration the machines run under: a buggy orders projection, snapshots every 3
    events, deadlines an hour after confirmation, dead letters after 2 attempts at once."""
    settings.PROJECTIONS = [BROKEN_ORDERS if path == ORDERS else path for path in settings.PROJECTIONS]
    settings.PROJECTIONS_INLINE = False
    settings.EVENT_SUBSCRIBERS = []
    settings.SNAPSHOT_EVERY = 3
    settings.PAYMENT_DEADLINE_SECONDS = 3600
    settings.PROJECTION_MAX_ATTEMPTS = 2
    settings.PROJECTION_RETRY_BASE_SECONDS = 0
    MachineBase.broker = broker
    MachineBase.verify_every = VERIFY_EVERY


def test_the_back_office_keeps_its_promises_whatever_the_features_do_to_each_other(model_settings: None) -> None:
    run_state_machine_as_test(BackOffice, settings=profile())


def test_deadlines_and_a_failing_broker_keep_their_promises_step_after_step(model_settings: None) -> None:
    run_state_machine_as_test(WhereTheyMeet, settings=profile("seams"))


def profile(short: str = "ci") -> settings:
    """The profile HYPOTHESIS_PROFILE names; its short form for a machine of few rules."""
    return settings.get_profile(short if PROFILE == "ci" else PROFILE)
