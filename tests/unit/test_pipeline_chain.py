"""The one middleware chain both buses run (pipeline/chain.py): the first middleware sees the
message first and the answer last, a setting names the chain, and a setting naming the API's
token authentication by its old path still gets the one class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from monitoring.pipeline import log_command, log_query, measure_command, measure_query
from pipeline.chain import chain, configured_middleware
from web.authentication import TokenAuthentication


def tracing(name: str, seen: list[str]) -> Callable[[str, Callable[[str], str]], str]:
    def middleware(message: str, call_next: Callable[[str], str]) -> str:
        seen.append(f"{name} before {message}")
        answer = call_next(message + name)
        seen.append(f"{name} after {answer}")
        return answer + name

    return middleware


def test_the_first_middleware_sees_the_message_first_and_the_answer_last() -> None:
    seen: list[str] = []
    run = chain([tracing("a", seen), tracing("b", seen)], lambda message: message.upper())

    assert run("m") == "MABba"
    assert seen == ["a before m", "b before ma", "b after MAB", "a after MABb"]


def test_no_middleware_is_the_core_itself() -> None:
    def core(message: str) -> str:
        return message

    assert chain([], core) is core


def test_a_setting_names_each_buss_chain_outermost_first(settings: Any) -> None:
    assert configured_middleware("QUERY_MIDDLEWARE") == [log_query, measure_query]
    settings.COMMAND_MIDDLEWARE = ["monitoring.pipeline.measure_command", "monitoring.pipeline.log_command"]
    assert configured_middleware("COMMAND_MIDDLEWARE") == [measure_command, log_command]
    del settings.COMMAND_MIDDLEWARE
    assert configured_middleware("COMMAND_MIDDLEWARE") == []


def test_the_old_path_of_the_token_authentication_names_the_same_class() -> None:
    assert import_string("accounts.tokens.TokenAuthentication") is TokenAuthentication
