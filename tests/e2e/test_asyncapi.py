"""The AsyncAPI 3 document: served next to the OpenAPI schema, valid, and in step with the contract.

No AsyncAPI 3 validator on PyPI is both well kept and usable offline (the official one is the
JavaScript parser), so the document is checked with jsonschema against the structure AsyncAPI
3.0.0 requires of what we use (required fields, `action` values, `$ref`s only where the
specification allows them), every `$ref` must resolve, each message payload must itself be a
valid JSON Schema, and every type docs/events.md names must be a message of the right channel.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from integration.language import INBOUND_TYPES, OUTBOUND_TYPES

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "events.md"
REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string", "pattern": "^#/"}}}
ASYNCAPI_3_STRUCTURE: dict[str, Any] = {
    "type": "object",
    "required": ["asyncapi", "info", "channels", "operations"],
    "properties": {
        "asyncapi": {"const": "3.0.0"},
        "info": {"type": "object", "required": ["title", "version"]},
        "servers": {
            "type": "object",
            "additionalProperties": {"type": "object", "required": ["host", "protocol"]},
        },
        "channels": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["address", "messages"],
                "properties": {"address": {"type": "string"}, "messages": {"additionalProperties": REF}},
            },
        },
        "operations": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["action", "channel"],
                "properties": {
                    "action": {"enum": ["send", "receive"]},
                    "channel": REF,
                    "messages": {"type": "array", "items": REF},
                },
            },
        },
        "components": {
            "type": "object",
            "properties": {
                "messages": {
                    "additionalProperties": {"type": "object", "required": ["name", "payload"]},
                },
            },
        },
    },
}


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


@pytest.fixture
def document(admin_client_api: APIClient) -> dict[str, Any]:
    response = admin_client_api.get("/api/asyncapi.yaml", headers={"Accept": "application/yaml"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    loaded: dict[str, Any] = yaml.safe_load(response.content)
    return loaded


def test_the_document_is_asyncapi_3_and_every_reference_resolves(document: dict[str, Any]) -> None:
    Draft202012Validator(ASYNCAPI_3_STRUCTURE).validate(document)
    for ref in refs(document):
        resolve(document, ref)  # KeyError: a dangling reference
    for message in document["components"]["messages"].values():
        Draft202012Validator.check_schema(message["payload"])


def test_every_type_in_the_contract_is_a_message_of_its_channel(document: dict[str, Any]) -> None:
    contract_types = set(re.findall(r"`((?:backoffice|payment|shipment)\.[a-z_.]+\.v\d+)`", CONTRACT.read_text()))
    assert contract_types == {*OUTBOUND_TYPES, *INBOUND_TYPES}

    def names(channel: str) -> set[str]:
        return {resolve(document, m["$ref"])["name"] for m in document["channels"][channel]["messages"].values()}

    assert names("events") == set(OUTBOUND_TYPES)
    assert names("inbound") == set(INBOUND_TYPES)
    assert document["channels"]["events"]["address"] == "backoffice.events"
    assert document["channels"]["inbound"]["address"] == "backoffice.inbound"


@pytest.mark.django_db
def test_like_the_openapi_schema_the_document_needs_no_login() -> None:
    client = APIClient()
    for path in ("/api/schema/", "/api/asyncapi.yaml"):
        response = client.get(path, headers={"Accept": "application/yaml"})
        assert response.status_code == 200, path
    assert yaml.safe_load(response.content)["asyncapi"] == "3.0.0"
