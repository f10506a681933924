"""Phone orders and address changes in the admin: a person sends the very commands the API
sends (CreateOrder, ChangeShippingAddress) through the bus, with the API endpoint's permission
(orders.place_order) and the API's own serializers checking the input, so the admin accepts
exactly what the API accepts. Bad input or a refusal is shown as a message with its reason,
and nothing is appended; without the permission the answer is 403."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from orders.admin.forms import AddressForm, LineFormSet, PhoneOrderForm
from orders.api.permissions import PLACE
from orders.api.serializers import ChangeShippingAddressIn, CreateOrderIn, create_order
from orders.commands import ChangeShippingAddress
from writeside.sending import require, send


def command_page(request: HttpRequest, title: str, forms_shown: list[Any], **extra: Any) -> HttpResponse:
    """A page of forms that sends one command (templates/admin/orders/command_page.html)."""
    return TemplateResponse(
        request,
        "admin/orders/command_page.html",
        {**admin.site.each_context(request), "title": title, "forms": forms_shown, **extra},
    )


def order_page(order_id: UUID) -> str:
    """The order's page in the read-side admin, which shows what the command did."""
    return reverse("admin:readmodels_ordersummary_change", args=[order_id])


def place_phone_order(request: HttpRequest) -> HttpResponse:
    """GET: the empty form; POST: CreateOrder through the bus, then the order's page."""
    require(request, PLACE)
    data = request.POST if request.method == "POST" else None
    order = PhoneOrderForm(data, initial={"order_id": uuid4()})
    address = AddressForm(data, prefix="shipping")
    lines = LineFormSet(data, prefix="lines")
    if data is not None and order.is_valid() and lines.is_valid():
        # The raw input goes to the API's serializer: it alone decides what is acceptable.
        shipping = {key: data.get(f"shipping-{key}", "") for key in AddressForm.base_fields}
        body = {
            **{key: data.get(key, "") for key in ("customer_id", "customer_email", "currency")},
            "payment_method": data.get("payment_method") or None,
            "items": [line for line in lines.cleaned_data if any(line.values())],
            "shipping_address": shipping if any(shipping.values()) else None,
        }
        order_id = order.cleaned_data["order_id"]
        if send(
            request, CreateOrderIn, body, lambda valid, meta: create_order(valid, order_id=order_id, metadata=meta)
        ):
            messages.success(request, "Phone order placed. Its page fills in once the projection has run.")
            return HttpResponseRedirect(order_page(order_id))
    return command_page(request, "Place a phone order", [order, address], lines=lines)


@require_POST
def change_shipping_address(request: HttpRequest, order_id: UUID) -> HttpResponse:
    """ChangeShippingAddress through the bus; refused input comes back in the form with the
    reasons. (The form with the current address is the read side's page, which shows it.)"""
    require(request, PLACE)
    body = {"shipping_address": {key: request.POST.get(key, "") for key in AddressForm.base_fields}}
    if send(
        request,
        ChangeShippingAddressIn,
        body,
        lambda valid, meta: ChangeShippingAddress(order_id=order_id, metadata=meta, **valid),
    ):
        messages.success(request, "Shipping address changed.")
        return HttpResponseRedirect(order_page(order_id))
    return command_page(request, "Change the shipping address", [AddressForm(request.POST)], back=order_page(order_id))
