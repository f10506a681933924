"""The daily sales query endpoint: per day and currency, revenue beside refunds paid, from the
DailySales read model only; staff with `readmodels.view_dailysales` (as the dashboard) see it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import django_filters
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readmodels.api.serializers import InCurrency, money
from readmodels.api.views import MIN_POSITION, QUERY_ERRORS, STALE, QueryView, answer, read_your_writes
from readmodels.models import MONEY_SUM_DIGITS, DailySales
from readmodels.queries import ListDailySales, ask
from web.serializers import problem_responses

VIEW_DAILY_SALES = "readmodels.view_dailysales"
# The default window, and the longest one asked at once (a year and a leap day).
DEFAULT_DAYS = 30
MAX_DAYS = 366


class CanViewDailySales(BasePermission):
    """The dashboard's permission: sales figures are not every signed-in user's business."""

    message = f"Missing the permission {VIEW_DAILY_SALES}"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user.has_perm(VIEW_DAILY_SALES))


class DailySalesFilter(django_filters.FilterSet):
    """?since=&until=&currency="""

    since = django_filters.DateFilter()
    until = django_filters.DateFilter()
    currency = django_filters.CharFilter(max_length=3)

    class Meta:
        model = DailySales
        fields: list[str] = []

    def selection(self) -> dict[str, Any]:
        """The parameters as keyword arguments of ListDailySales; ValidationError (400) if invalid."""
        if not self.is_valid():
            raise exceptions.ValidationError(self.errors)
        data = self.form.cleaned_data
        until: date = data.get("until") or timezone.now().date()
        since: date = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise exceptions.ValidationError({"since": ["Must not be after until."]})
        if (until - since).days >= MAX_DAYS:
            raise exceptions.ValidationError({"since": [f"At most {MAX_DAYS} days at once."]})
        currency = data.get("currency") or None
        if currency is not None and not (len(currency) == 3 and currency.isascii() and currency.isupper()):
            raise exceptions.ValidationError({"currency": ["Must be an ISO 4217 code like EUR."]})
        return {"since": since, "until": until, "currency": currency}


class DailySalesOut(InCurrency):
    """One day's sales in one currency (its amounts with that currency's decimals)."""

    day = serializers.DateField()
    currency = serializers.CharField()
    orders_placed = serializers.IntegerField()
    orders_paid = serializers.IntegerField()
    revenue = money(MONEY_SUM_DIGITS, help_text="Payments taken that day.")
    refunds_paid = money(MONEY_SUM_DIGITS, help_text="Refunds paid back that day, beside the revenue.")
    cancellations = serializers.IntegerField()
    refunded = money(MONEY_SUM_DIGITS, help_text="What cancellations of paid orders that day owed back.")


class DailySalesPageOut(serializers.Serializer):  # type: ignore[type-arg]
    """The days of the window that had any sales, newest first."""

    results = DailySalesOut(many=True)


class DailySalesView(QueryView):
    """GET /api/sales/daily/: per day and currency, revenue beside refunds paid."""

    permission_classes = [IsAuthenticated, CanViewDailySales]

    @extend_schema(
        operation_id="daily_sales",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATE, description="First day (default: 29 days before `until`)."),
            OpenApiParameter(
                "until", OpenApiTypes.DATE, description="Last day (default: today, UTC); at most 366 days."
            ),
            OpenApiParameter("currency", OpenApiTypes.STR, description="Only this ISO 4217 currency."),
            MIN_POSITION,
            STALE,
        ],
        responses={
            200: DailySalesPageOut,
            **problem_responses({403: f"Missing the permission {VIEW_DAILY_SALES}"}),
            **QUERY_ERRORS,
        },
        tags=["queries"],
    )
    def get(self, request: Request) -> Response:
        selection = DailySalesFilter(request.query_params).selection()
        stale = read_your_writes(request)
        return answer(DailySalesPageOut({"results": ask(ListDailySales(**selection))}).data, stale)
