"""Lockout after repeated failed logins, decided by django-axes' database handler (settings
AXES_*, keyed on web.throttles.client_address, the throttles' address). A locked-out
admin login gets a plain-text 429 page with Retry-After (AXES_LOCKOUT_CALLABLE); the token
endpoint raises its own 429 problem+json (accounts/api.py), so /api/ never sees this page."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off, get_lockout_message
from django.http import HttpRequest, HttpResponse


def retry_after_seconds(request: HttpRequest) -> int:
    """How long a lockout lasts from now: axes restarts the cool-off on each failed attempt."""
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a locked-out login attempt gets instead of its page."""
    response = HttpResponse(str(get_lockout_message()), status=429, content_type="text/plain; charset=utf-8")
    seconds = retry_after_seconds(request)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
