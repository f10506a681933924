"""Phone orders and address changes in the admin: a person sends the very commands the API
sends (CreateOrder, ChangeShippingAddress) through the bus, with the API endpoint's permission
(orders.place_order) and the API's own serializers checking the input, so the admin accepts
exactly what the API accepts. Bad input or a refusal is shown as a message with its reason,
and nothing is appended; without the permission the answer is 403."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from rest_framework import serializers

from orders.addresses import CITY_LENGTH, LINE_LENGTH, NAME_LENGTH, POSTAL_CODE_LENGTH, PaymentMethod
from orders.api.permissions import PLACE
from orders.api.serializers import ChangeShippingAddressIn, CreateOrderIn, create_order
from orders.commands import ChangeShippingAddress
from readmodels.models import OrderDetail, OrderSummary
from writeside import bus
from writeside.commands import Command, CommandMetadata
from writeside.errors import DomainError


class PhoneOrderForm(forms.Form):
    """Who orders, and how they pay (checked by CreateOrderIn when sent). The hidden order id
    is chosen when the form is shown, so sending the form twice names the same order (the
    second is refused: it exists)."""

    order_id = forms.UUIDField(widget=forms.HiddenInput)
    customer_id = forms.CharField(required=False)
    customer_email = forms.CharField(required=False, label="e-mail")
    currency = forms.CharField(required=False, initial="EUR")
    payment_method = forms.CharField(
        required=False,
        widget=forms.Select(choices=[("", "-")] + [(method.value, method.value) for method in PaymentMethod]),
    )


class AddressForm(forms.Form):
    """A shipping address; its rules are the API's (AddressIn), checked when it is sent, so
    the fields here only size the inputs."""

    name = forms.CharField(max_length=NAME_LENGTH, required=False)
    line1 = forms.CharField(max_length=LINE_LENGTH, required=False)
    line2 = forms.CharField(max_length=LINE_LENGTH, required=False)
    postal_code = forms.CharField(max_length=POSTAL_CODE_LENGTH, required=False)
    city = forms.CharField(max_length=CITY_LENGTH, required=False)
    country = forms.CharField(max_length=2, required=False, help_text="ISO 3166-1 alpha-2, e.g. DE")


class LineForm(forms.Form):
    """One order line; a line left blank is no line."""

    sku = forms.CharField(max_length=64, required=False)
    quantity = forms.CharField(required=False)
    unit_price = forms.CharField(required=False)


LineFormSet = formset_factory(LineForm, extra=3)


def api_errors(errors: Any, field: str = "") -> list[str]:
    """A serializer's errors as "field: reason" lines (nested fields dotted, lines numbered)."""
    if isinstance(errors, dict):
        # A list's errors are keyed by index: counted from 1, as a person counts lines.
        return [
            line
            for key, value in errors.items()
            for line in api_errors(
                value, f"{field} {key + 1}" if isinstance(key, int) else f"{field}.{key}".lstrip(".")
            )
        ]
    if isinstance(errors, list) and errors and not isinstance(errors[0], str):
        return [line for n, value in enumerate(errors, 1) if value for line in api_errors(value, f"{field} {n}")]
    reasons = errors if isinstance(errors, list) else [errors]
    return [f"{field.replace('non_field_errors', 'input')}: {reason}" for reason in reasons]


def send(
    request: HttpRequest, serializer_class: type[serializers.Serializer[Any]], body: dict[str, Any], build: Any
) -> bool:
    """Check `body` with the API's serializer and send the command `build(data, metadata)` makes;
    True once it is appended, else every reason is an error message and nothing was appended."""
    serializer = serializer_class(data=body)
    if not serializer.is_valid():
        for line in api_errors(serializer.errors):
            messages.error(request, f"Refused, {line}")
        return False
    command: Command = build(
        serializer.validated_data, CommandMetadata(user=request.user.get_username(), source="admin")
    )
    try:
        bus.handle(command)
    except DomainError as error:
        messages.error(request, f"Refused, {error}")
        return False
    return True


def require_place(request: HttpRequest) -> None:
    """The API endpoints' permission for both commands (orders/api/permissions.py)."""
    if not request.user.has_perm(PLACE):
        raise PermissionDenied


def page(model_admin: Any, request: HttpRequest, title: str, forms_shown: list[Any], **extra: Any) -> HttpResponse:
    return TemplateResponse(
        request,
        "admin/readmodels/command_page.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "forms": forms_shown,
            "opts": model_admin.model._meta,
            **extra,
        },
    )


def detail_url(order_id: UUID) -> str:
    return reverse("admin:readmodels_orderdetail_change", args=[order_id])


def place_phone_order(model_admin: Any, request: HttpRequest) -> HttpResponse:
    """GET: the empty form; POST: CreateOrder through the bus, then the order's page."""
    require_place(request)
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
            return HttpResponseRedirect(detail_url(order_id))
    return page(model_admin, request, "Place a phone order", [order, address], lines=lines)


def change_shipping_address(model_admin: Any, request: HttpRequest, order_id: UUID) -> HttpResponse:
    """GET: the form with the current address; POST: ChangeShippingAddress through the bus."""
    require_place(request)
    summary = get_object_or_404(OrderSummary, order_id=order_id)
    current = OrderDetail.objects.filter(order_id=order_id).values_list("shipping_address", flat=True).first()
    address = AddressForm(request.POST if request.method == "POST" else None, initial=current or {})
    if request.method == "POST":
        body = {"shipping_address": {key: request.POST.get(key, "") for key in AddressForm.base_fields}}
        if send(
            request,
            ChangeShippingAddressIn,
            body,
            lambda valid, meta: ChangeShippingAddress(order_id=order_id, metadata=meta, **valid),
        ):
            messages.success(request, f"{summary.order_number}: shipping address changed.")
            return HttpResponseRedirect(detail_url(order_id))
    return page(model_admin, request, f"Change the shipping address of {summary.order_number}", [address])
