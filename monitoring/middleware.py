"""Per-request log context: a request id (the client's X-Request-ID when it is a plain token,
else a new one, echoed in the response) on every line the request logs, and one line per
request with its method, path, status, user and duration. And django-prometheus's request
metrics with labels from a fixed set, whatever a client sends (`RequestMetricsMiddleware`)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django_prometheus.middleware import PrometheusAfterMiddleware
from prometheus_client.metrics import MetricWrapperBase

from telemetry.logs import bound

logger = logging.getLogger("monitoring.requests")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if REQUEST_ID.match(sent) else uuid.uuid4().hex
        started = time.perf_counter()
        with bound(request_id=request_id):
            response = self.get_response(request)
            user = getattr(request, "user", None)
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "user": user.get_username() if user is not None and user.is_authenticated else None,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
        response["X-Request-ID"] = request_id
        return response


class RequestMetricsMiddleware(PrometheusAfterMiddleware):  # type: ignore[misc]
    """django-prometheus's per-request metrics, every `method` label one of the methods HTTP
    defines or "<invalid method>".

    Its latency histogram takes the request's method as sent, so each made-up method (any
    token is a valid method on the wire) made a new histogram of ~20 series in every worker
    and in the multiprocess files. Its other labels are bounded already: `view` is a named
    route or "<unnamed view>" (never the path), `status`, `transport`, `charset`, template
    and exception names come from this code."""

    def label_metric(
        self, metric: MetricWrapperBase, request: HttpRequest, response: HttpResponse | None = None, **labels: str
    ) -> MetricWrapperBase:
        if "method" in labels:
            labels["method"] = self._method(request)
        return super().label_metric(metric, request, response, **labels)  # type: ignore[no-any-return]
