"""Under /api/, refusals and outages answer problem+json, before and around every view.

- A body larger than API_MAX_BODY_BYTES answers 413 before anything reads it.
- An exception a view lets through that is not the client's fault (the database is
  unreachable: 503 with Retry-After) or is Django refusing the request (too many form
  fields: 400; a body over Django's own limit: 413) answers with its status, not a 500 page.
Failures raised outside views reach the same mapping through handler400 and handler500
(web/errors.py), so one table decides every status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from web.errors import is_api, outside_problem, plain_problem

logger = logging.getLogger(__name__)


class ApiProblemsMiddleware:
    """Body-size limit and exception mapping for the API's paths."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request):
            refused = self._refuse_body(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def _refuse_body(request: HttpRequest) -> HttpResponse | None:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return plain_problem(400, "bad-request", "Content-Length is not a number.")
        limit = int(settings.API_MAX_BODY_BYTES)
        if length > limit:
            return plain_problem(413, "too-large", f"The request body is larger than {limit} bytes.")
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Map an outage or a refusal to its problem+json; anything else stays a 500."""
        if not is_api(request):
            return None
        response = outside_problem(exception)
        if response is not None and response.status_code >= 500:
            logger.warning("%s %s answered %s: %s", request.method, request.path, response.status_code, exception)
        return response
