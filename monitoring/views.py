"""Probe and scrape endpoints: plain Django views, outside DRF (no authentication, no throttle),
each answering JSON or Prometheus text and never a 500 page."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import health

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """200 when every critical check is up, else 503; the body names every check and its state."""
    try:
        checks = health.readiness()
    except Exception as error:  # a check that escaped its own guard must still not answer 500
        logger.exception("Readiness probe failed")
        return _quiet(
            JsonResponse(
                {"status": "fail", "checks": {"probe": {"state": "down", "error": type(error).__name__}}}, status=503
            )
        )
    failing = any(check.failing for check in checks)
    body = {"status": "fail" if failing else "ok", "checks": {check.name: check.as_dict() for check in checks}}
    return _quiet(JsonResponse(body, status=503 if failing else 200))


def _quiet(response: JsonResponse) -> JsonResponse:
    """A 503 from a probe is an answer, not a server error: the failing check already logged a
    warning, so Django does not log it again at ERROR (which Sentry would turn into an event
    every few seconds for as long as an outage lasts)."""
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log.log_response's flag
    return response


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text; with METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
    from monitoring.metrics import exposition

    token = str(settings.METRICS_TOKEN)
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return HttpResponse(
                "Unauthorized\n", status=401, content_type="text/plain", headers={"WWW-Authenticate": "Bearer"}
            )
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
