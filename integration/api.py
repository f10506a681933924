"""GET /api/asyncapi.yaml: the AsyncAPI 3 document of the integration events, both directions.

It sits next to the OpenAPI schema and, like it, needs no login: both describe the product's
public interface and reveal no data. The document is a file in the repository, served as it
is, so it cannot drift from what the tests validate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

DOCUMENT = Path(__file__).with_name("asyncapi.yaml")
CONTENT_TYPE = "application/yaml"


class YamlDocumentRenderer(BaseRenderer):
    """Passes the document's bytes through; anything else (an error) is JSON, which is YAML too."""

    media_type = CONTENT_TYPE
    format = "yaml"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        return bytes(JSONRenderer().render(data))


class AsyncApiView(APIView):
    """The checked-in AsyncAPI document, as YAML."""

    renderer_classes = [YamlDocumentRenderer, JSONRenderer]
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    schema = None  # not an operation of the REST API it sits beside

    def get(self, request: Request) -> Response:
        return Response(DOCUMENT.read_bytes(), content_type=f"{CONTENT_TYPE}; charset=utf-8")
