"""Projection status, dead letters and rebuilds in the admin; and the dashboard.

Least privilege: being staff opens no page here. Each page needs a view permission and
every operator action (each POST: retry, skip, rebuild) a change permission, all on
existing models, so they are granted in the admin's user and group forms like any other:

* the projections page lists the dead letters (error, stream) as the DeadLetter list does,
  so whoever may view that list may see it (`readmodels.view_deadletter`, or the change
  permission, which implies view in Django's admin) and nobody else;
* retry, skip and rebuild each change dead letters (resolve one, skip one, or clear a
  projection's blocking ones before replaying it), and DeadLetterAdmin is read-only, so
  `readmodels.change_deadletter` grants these actions and nothing else;
* the dashboard charts the DailySales rows (plus order counts per status), so it needs
  what the DailySales list needs (`readmodels.view_dailysales`); its projection-lag table
  shows only to those who may see the projections page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from eventlog.admin import ReadOnlyAdmin
from readmodels.models import DailySales, DeadLetter
from readmodels.projections import all_projections
from readmodels.projector import Projector
from readmodels.rebuild import progress_key, rebuild_by_name
from readmodels.selectors.dashboard import orders_by_status, revenue_per_day
from readmodels.status import projection_status

CHART_HEIGHT = 160
OPERATE_PROJECTIONS = "readmodels.change_deadletter"


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = (
        "projection",
        "position",
        "event_type",
        "stream_id",
        "status",
        "attempts",
        "error",
        "last_failed_at",
    )
    list_filter = ("projection", "status", "event_type")
    search_fields = ("=stream_id", "=event_id")


def may_view(request: HttpRequest, model: type[Model]) -> bool:
    """Whether the user may see `model`'s list in this admin: its view or change permission."""
    return admin.site.get_model_admin(model).has_view_permission(request)


def _require_view(request: HttpRequest, model: type[Model]) -> None:
    if not may_view(request, model):
        raise PermissionDenied(f"This page needs the permission to view {model._meta.verbose_name_plural}.")


def _rebuilds() -> dict[str, dict[str, Any]]:
    progress = {name: cache.get(progress_key(name)) for name in all_projections()}
    return {name: value for name, value in progress.items() if value}


@require_http_methods(["GET", "POST"])
def projection_status_view(request: HttpRequest) -> HttpResponse:
    """Per projection: position, head, lag, dead letters; retry, skip and rebuild buttons."""
    _require_view(request, DeadLetter)
    can_operate = request.user.has_perm(OPERATE_PROJECTIONS)
    if request.method == "POST":
        if not can_operate:
            raise PermissionDenied("Retrying, skipping and rebuilding need the permission to change dead letters.")
        _act(request)
        return HttpResponseRedirect(request.path)
    rebuilds = _rebuilds()
    return TemplateResponse(
        request,
        "admin/readmodels/projection_status.html",
        {
            **admin.site.each_context(request),
            "title": "Projections",
            "statuses": projection_status(),
            "letters": DeadLetter.objects.filter(status__in=[DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED]),
            "held": DeadLetter.objects.filter(status=DeadLetter.Status.HELD).count(),
            "rebuilds": rebuilds,
            "running": any("finished_at" not in progress for progress in rebuilds.values()),
            "can_operate": can_operate,
        },
    )


def _act(request: HttpRequest) -> None:
    projections = all_projections()
    name = request.POST.get("projection", "")
    if name not in projections:
        messages.error(request, f"Unknown projection {name!r}.")
        return
    action, stream = request.POST.get("action"), request.POST.get("stream_id", "")
    if action in {"retry", "skip"}:
        unblocked = Projector(projections[name]).retry_stream(stream, skip_first=action == "skip")
        if unblocked:
            messages.success(request, f"{name}: stream {stream} is flowing again.")
        else:
            messages.warning(request, f"{name}: stream {stream} still fails; see the error below.")
    elif action == "rebuild":
        if settings.PROJECTIONS_INLINE:
            heads = rebuild_by_name([name])
            messages.success(request, f"Rebuilt {name} up to position {heads[name]}.")
        else:
            from readmodels.tasks import rebuild

            rebuild.delay([name])
            messages.success(request, f"Rebuild of {name} queued; progress shows below.")


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Orders by status, revenue per day for the last 30 days, projection lag."""
    _require_view(request, DailySales)
    charts = []
    for currency, days in revenue_per_day(30).items():
        top = max((day.revenue for day in days), default=0) or 1
        bars = [
            {
                "x": index * 22,
                "height": int(CHART_HEIGHT * day.revenue / top),
                "y": CHART_HEIGHT - int(CHART_HEIGHT * day.revenue / top),
                "day": day.day,
                "revenue": day.revenue,
                "orders_paid": day.orders_paid,
            }
            for index, day in enumerate(days)
        ]
        charts.append({"currency": currency, "bars": bars, "total": sum(day.revenue for day in days), "top": top})
    by_status = orders_by_status()
    return TemplateResponse(
        request,
        "admin/dashboard.html",
        {
            **admin.site.each_context(request),
            "title": "Dashboard",
            "by_status": by_status,
            "orders_total": sum(by_status.values()),
            "charts": charts,
            "chart_height": CHART_HEIGHT,
            "statuses": projection_status() if may_view(request, DeadLetter) else None,
        },
    )
