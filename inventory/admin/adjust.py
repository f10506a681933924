"""Adjusting stock from the admin: AdjustStock through the bus with the API endpoint's
permission (inventory.adjust_stock) and serializer, so the admin accepts exactly what the
API accepts; a refusal comes back in the form with its reason, and nothing is appended."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from inventory.admin.forms import AdjustStockForm
from inventory.api.permissions import ADJUST
from inventory.api.serializers import AdjustStockIn
from inventory.commands import AdjustStock
from writeside.sending import require, send


@require_POST
def adjust_stock(request: HttpRequest, sku: str) -> HttpResponse:
    """AdjustStock through the bus, then the product list; refused, the form again with why."""
    require(request, ADJUST)
    body = {key: request.POST[key] for key in AdjustStockForm.base_fields if key in request.POST}
    if send(request, AdjustStockIn, body, lambda valid, meta: AdjustStock(sku=sku, metadata=meta, **valid)):
        messages.success(request, f"{sku}: stock adjusted. The list shows it once the projection has run.")
        return HttpResponseRedirect(reverse("admin:readmodels_productstock_changelist"))
    context = {
        **admin.site.each_context(request),
        "title": f"Adjust the stock of {sku}",
        "form": AdjustStockForm(request.POST),
    }
    return TemplateResponse(request, "admin/readmodels/productstock/adjust_stock.html", context)


urlpatterns = [path("<str:sku>/adjust/", admin.site.admin_view(adjust_stock), name="admin-product-adjust")]
