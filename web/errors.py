"""Every API error as application/problem+json (RFC 9457), domain errors included."""

from __future__ import annotations

import sys
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from kernel import errors

PROBLEM_TYPE = "https://backoffice.example/problems/"

# Domain error -> (HTTP status, problem type slug, title). The kinds every command can end
# with; each context registers its own errors from its AppConfig (`register_problem`).
DOMAIN_STATUS: dict[type[errors.DomainError], tuple[int, str, str]] = {
    errors.InvalidValue: (400, "invalid-value", "Invalid value"),
    errors.InvalidTransition: (409, "invalid-state", "Not allowed in the order's current state"),
    errors.ConcurrencyConflict: (409, "concurrent-modification", "Concurrent modification"),
    errors.StreamArchived: (409, "archived", "Archived"),
    errors.VersionMismatch: (412, "precondition-failed", "The order is not at the expected version"),
    errors.BusinessRuleViolated: (422, "business-rule", "Business rule violated"),
    errors.IdempotencyKeyReused: (422, "idempotency-key-reused", "Idempotency key reused with another request"),
}


def register_problem(error_type: type[errors.DomainError], status_code: int, slug: str, title: str) -> None:
    """Answer `error_type` (and its subclasses without a problem of their own) with this problem."""
    DOMAIN_STATUS[error_type] = (status_code, slug, title)


def domain_problem(exc: errors.DomainError) -> tuple[int, str, str] | None:
    """The problem registered for the error's class, or else for its nearest base."""
    return next((DOMAIN_STATUS[kind] for kind in type(exc).__mro__ if kind in DOMAIN_STATUS), None)


def problem(status_code: int, slug: str, title: str, detail: str, **extra: Any) -> Response:
    """A problem+json response."""
    body = {"type": PROBLEM_TYPE + slug, "title": title, "status": status_code, "detail": detail, **extra}
    return Response(body, status=status_code, content_type="application/problem+json")


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for field, messages in detail.items():
            nested = _field_errors(messages) if isinstance(messages, dict) else None
            if nested:
                flat.update({f"{field}.{key}": value for key, value in nested.items()})
            elif isinstance(messages, list) and messages and isinstance(messages[0], dict):
                for index, item in enumerate(messages):
                    flat.update({f"{field}[{index}].{k}": v for k, v in _field_errors(item).items()})
            else:
                flat[str(field)] = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
        return flat
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: map domain and HTTP errors to problem+json."""
    known = domain_problem(exc) if isinstance(exc, errors.DomainError) else None
    if known is not None:
        code, slug, title = known
        extra: dict[str, Any] = {}
        if isinstance(exc, errors.InvalidValue):
            extra["errors"] = {exc.field: [exc.message]}
        return problem(code, slug, title, str(exc), **extra)
    if isinstance(exc, exceptions.ValidationError):
        return problem(
            400, "validation", "Invalid request", "The request has invalid fields.", errors=_field_errors(exc.detail)
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
    slug = {
        status.HTTP_400_BAD_REQUEST: "bad-request",
        status.HTTP_401_UNAUTHORIZED: "not-authenticated",
        status.HTTP_403_FORBIDDEN: "forbidden",
        status.HTTP_404_NOT_FOUND: "not-found",
        status.HTTP_405_METHOD_NOT_ALLOWED: "method-not-allowed",
        status.HTTP_406_NOT_ACCEPTABLE: "not-acceptable",
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported-media-type",
        status.HTTP_429_TOO_MANY_REQUESTS: "too-many-requests",
    }.get(response.status_code, "error")
    # The status phrase, not exc.default_detail: Django's Http404 has none.
    title = HTTPStatus(response.status_code).phrase
    result = problem(response.status_code, slug, title, str(detail))
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            result[header] = response[header]
    return result


def is_api(request: HttpRequest) -> bool:
    """True for the API's paths, where every answer is JSON."""
    return request.path.startswith("/api/")


def plain_problem(status_code: int, slug: str, detail: str) -> JsonResponse:
    """A problem+json response outside DRF (middleware and Django's error handlers)."""
    body = {
        "type": PROBLEM_TYPE + slug,
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
    }
    return JsonResponse(body, status=status_code, content_type="application/problem+json")


def outside_problem(exception: BaseException | None) -> JsonResponse | None:
    """The problem+json answer for a failure outside the client's control or Django's refusal
    of a request, raised before or around a view; None if it is neither."""
    if isinstance(exception, OperationalError | InterfaceError):
        # The database cannot be reached (or dropped the connection): nothing was committed.
        response = plain_problem(
            503, "unavailable", "The service cannot reach its database; nothing was changed. Try again later."
        )
        response["Retry-After"] = str(int(settings.RETRY_AFTER_SECONDS))
        return response
    if isinstance(exception, RecursionError):
        # A parser other than BoundedJSONParser met a body nested past Python's recursion limit.
        return plain_problem(400, "bad-request", "The request body is nested too deeply.")
    if isinstance(exception, RequestDataTooBig):
        return plain_problem(413, "too-large", "The request body is larger than the server accepts.")
    if isinstance(exception, SuspiciousOperation):
        # Too many fields, a forbidden Host header, a malformed multipart body...
        return plain_problem(400, "bad-request", f"The request was refused: {exception}")
    return None


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404 (and the catch-all under /api/): problem+json for unknown paths under /api/,
    Django's page elsewhere."""
    if is_api(request):
        return plain_problem(404, "not-found", "No endpoint matches this path.")
    return defaults.page_not_found(request, exception or Exception())


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: Django refused the request (SuspiciousOperation) outside a view."""
    if is_api(request):
        return outside_problem(exception) or plain_problem(400, "bad-request", "The request was refused.")
    return defaults.bad_request(request, exception or Exception())


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: problem+json under /api/ (no HTML, no traceback), Django's page elsewhere.
    A database outage raised outside a view still answers 503."""
    if is_api(request):
        return outside_problem(sys.exc_info()[1]) or plain_problem(
            500, "server-error", "The server failed to answer; the failure was logged."
        )
    return defaults.server_error(request)
