"""The dashboard: orders by status, revenue per day, and projection lag; amounts in the
currency's minor units (readmodels/amounts.py).

It charts the DailySales rows (plus order counts per status), so it needs what the
DailySales list needs (`readmodels.view_dailysales`); its projection-lag table shows only
to those who may see the projections page (projector/admin.py).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from projector.admin import may_view, require_view
from projector.models import DeadLetter
from projector.status import projection_status
from readmodels.amounts import format_money
from readmodels.models import DailySales
from readmodels.selectors.dashboard import orders_by_status, revenue_per_day

CHART_HEIGHT = 160


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Orders by status, revenue per day for the last 30 days, projection lag."""
    require_view(request, DailySales)
    charts = []
    for currency, days in revenue_per_day(30).items():
        top = max((day.revenue for day in days), default=0) or 1
        bars = [
            {
                "x": index * 22,
                "height": int(CHART_HEIGHT * day.revenue / top),
                "y": CHART_HEIGHT - int(CHART_HEIGHT * day.revenue / top),
                "day": day.day,
                "revenue": format_money(day.revenue, currency),
                "orders_paid": day.orders_paid,
            }
            for index, day in enumerate(days)
        ]
        total = sum((day.revenue for day in days), Decimal(0))
        charts.append({"currency": currency, "bars": bars, "total": format_money(total, currency)})
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
