"""The shared write side knows no context: each registers its handlers, repositories and
problem types from its AppConfig, and the registries refuse a second owner."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pytest

from inventory.domain import Product
from inventory.errors import ProductNotFound
from inventory.events import MAX_RESERVATION
from orders.commands import PayOrder
from orders.domain import Order
from orders.errors import LineNotFound, StockNotReserved
from orders.events import MAX_QUANTITY
from orders.handlers import PRODUCT_STREAM_TYPE, pay_order
from tests.support.fakes import FakeUnitOfWork
from web.errors import domain_problem
from writeside import bus
from writeside.commands import Command
from writeside.unit_of_work import REPOSITORIES, CommandResult, register_repository


@dataclass(frozen=True, kw_only=True)
class Ping(Command):
    """A command no context has."""

    stream: str


def test_the_contexts_registered_their_handlers_and_repositories_from_their_appconfig() -> None:
    assert bus.HANDLERS[PayOrder] is pay_order
    assert {Order.stream_type, Product.stream_type} <= set(REPOSITORIES)


def test_a_command_type_has_one_handler_a_second_is_refused() -> None:
    def other(command: Any, uow: Any) -> CommandResult:
        raise AssertionError("never called")

    with pytest.raises(RuntimeError, match="PayOrder has a handler already"):
        bus.register_handlers({PayOrder: other})
    assert bus.HANDLERS[PayOrder] is pay_order
    bus.register_handlers({PayOrder: pay_order})  # the same again changes nothing


def test_a_handler_registered_later_is_dispatched_by_the_bus() -> None:
    def ping(command: Ping, uow: Any) -> CommandResult:
        return CommandResult(stream_id=command.stream, version=0, position=0)

    bus.register_handlers({Ping: ping})
    try:
        result = bus.MessageBus(uow_factory=FakeUnitOfWork).handle(Ping(stream="s-1"))
    finally:
        del bus.HANDLERS[Ping]
    assert result.stream_id == "s-1"


def test_a_stream_type_has_one_repository_a_second_is_refused() -> None:
    with pytest.raises(RuntimeError, match="'order' is registered already"):
        register_repository(Order, lambda store: REPOSITORIES["product"](store))


def test_a_repository_is_asked_for_by_aggregate_type_or_by_stream_type() -> None:
    with FakeUnitOfWork() as uow:
        assert uow.repository(Product) is uow.repository(PRODUCT_STREAM_TYPE)
        with pytest.raises(LookupError, match="'invoice'"):
            uow.repository("invoice")


def test_each_context_names_the_problem_of_its_errors_and_a_subclass_inherits_its_bases() -> None:
    assert domain_problem(ProductNotFound("x")) == (404, "not-found", "Product not found")
    assert domain_problem(LineNotFound("x")) == (404, "not-found", "Order line not found")
    assert domain_problem(StockNotReserved("x"))[:2] == (409, "invalid-state")  # type: ignore[index]


def test_what_one_context_mirrors_of_another_agrees_with_it() -> None:
    # Neither imports the other, so the few shared facts are kept equal here.
    assert Product.stream_type == PRODUCT_STREAM_TYPE
    assert MAX_RESERVATION == MAX_QUANTITY


def test_every_command_that_names_what_it_loads_names_a_registered_stream_type_and_a_field() -> None:
    # A wrong `loads` would only cost a round trip (the read along with the look-up would be of
    # another stream, and go unused); this keeps the declarations honest.
    declared = {command: command.loads for command in bus.HANDLERS if command.loads is not None}
    assert declared, "no command declares what it loads"
    for command, (stream_type, field) in declared.items():
        assert stream_type in REPOSITORIES, command
        assert field in {f.name for f in fields(command)}, command
