"""Orders in the admin: read-only read models, and actions that dispatch commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from eventlog.admin import ReadOnlyAdmin
from eventlog.store import event_store
from orders.api.permissions import CANCEL, FULFIL, PLACE
from orders.commands import CancelOrder, ConfirmOrder, ShipOrder
from readmodels.admin.phone_orders import change_shipping_address, place_phone_order
from readmodels.admin.refunds import RefundOwedFilter, refund_owed
from readmodels.models import CustomerLifetimeValue, CustomerOrderStats, DailySales, OrderDetail, OrderSummary
from readmodels.selectors.orders import matching
from writeside import bus
from writeside.commands import Command, CommandMetadata
from writeside.errors import DomainError
from writeside.money import Money


def dispatch_each(
    request: HttpRequest, orders: QuerySet[OrderSummary], build: Callable[[UUID, CommandMetadata], Command]
) -> None:
    """Send one command per selected order through the bus; report what went and what was refused."""
    metadata = CommandMetadata(user=request.user.get_username(), source="admin")
    done: list[str] = []
    for order in orders.order_by("created_at"):
        try:
            bus.handle(build(order.order_id, metadata))
        except DomainError as error:
            messages.warning(request, f"{order.order_number}: refused, {error}")
        else:
            done.append(order.order_number)
    if done:
        messages.success(request, f"Done for {', '.join(done)}. The list updates once the projection has run.")


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 60}))


class ShipForm(forms.Form):
    tracking_number = forms.CharField(max_length=255)
    carrier = forms.CharField(max_length=64, required=False)


def with_form(
    form_class: type[forms.Form],
    title: str,
    build: Callable[[dict[str, Any]], Callable[[UUID, CommandMetadata], Command]],
) -> Callable[[Any, HttpRequest, QuerySet[OrderSummary]], HttpResponse | None]:
    """An admin action that first asks for the command's fields on an intermediate page."""

    def action(model_admin: Any, request: HttpRequest, orders: QuerySet[OrderSummary]) -> HttpResponse | None:
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            dispatch_each(request, orders, build(form.cleaned_data))
            return None
        return TemplateResponse(
            request,
            "admin/readmodels/action_form.html",
            {
                **model_admin.admin_site.each_context(request),
                "title": title,
                "form": form,
                "orders": orders,
                "action": request.POST.get("action"),
                "opts": model_admin.model._meta,
            },
        )

    return action


def address_block(address: dict[str, str] | None) -> str:
    """An address as its lines, escaped; "-" when the order has none."""
    if not address:
        return "-"
    lines = [
        address["name"],
        address["line1"],
        address.get("line2", ""),
        address["postal_code"] + " " + address["city"],
    ]
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in [*lines, address["country"]] if line))


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyAdmin):
    list_display = (
        "order_number",
        "status",
        "customer",
        "customer_name",
        "customer_email",
        "item_count",
        "total",
        refund_owed,
        "created_at",
        "updated_at",
        "links",
    )
    list_filter = ("status", "currency", RefundOwedFilter)
    # The API's search (?q=, readmodels/search.py), so staff find the same orders in both;
    # get_search_results reads it, and an order id finds its order.
    search_fields = ("search_text",)
    search_help_text = "Order number, customer id or e-mail, SKU, shipping name or city: parts of words, any case."
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["confirm", "cancel", "ship"]

    def get_urls(self) -> list[URLPattern]:
        # Ahead of the default "<object_id>/..." patterns, which would take these paths.
        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(lambda request, **kwargs: function(self, request, **kwargs))

        return [
            path("phone-order/", view(place_phone_order), name="readmodels_ordersummary_phone_order"),
            path("<uuid:order_id>/address/", view(change_shipping_address), name="readmodels_ordersummary_address"),
            *super().get_urls(),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OrderSummary], search_term: str
    ) -> tuple[QuerySet[OrderSummary], bool]:
        try:
            return queryset.filter(order_id=UUID(search_term.strip())), False
        except ValueError:
            return matching(queryset, search_term), False

    @admin.display(description="customer", ordering="customer_id")
    def customer(self, order: OrderSummary) -> str:
        url = reverse("admin:readmodels_customerorderstats_change", args=[order.customer_id])
        return format_html("<a href='{}'>{}</a>", url, order.customer_id)

    @admin.display(description="total", ordering="total_amount")
    def total(self, order: OrderSummary) -> str:
        return str(Money(order.total_amount, order.currency))

    @admin.display(description="open")
    def links(self, order: OrderSummary) -> str:
        detail = reverse("admin:readmodels_orderdetail_change", args=[order.order_id])
        events = reverse("admin:eventlog_storedevent_changelist") + f"?stream_id={order.order_id}"
        return format_html("<a href='{}'>detail</a> · <a href='{}'>events</a>", detail, events)

    # The same permission as the API's endpoint for each command (orders/api/permissions.py).
    def has_place_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PLACE)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CANCEL)

    def has_fulfil_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(FULFIL)

    @admin.action(description="Confirm selected orders", permissions=["place"])
    def confirm(self, request: HttpRequest, orders: QuerySet[OrderSummary]) -> None:
        dispatch_each(request, orders, lambda order_id, meta: ConfirmOrder(order_id=order_id, metadata=meta))

    cancel = admin.action(description="Cancel selected orders…", permissions=["cancel"])(
        with_form(
            CancelForm,
            "Cancel orders",
            lambda data: lambda order_id, meta: CancelOrder(order_id=order_id, reason=data["reason"], metadata=meta),
        )
    )
    ship = admin.action(description="Mark selected orders shipped…", permissions=["fulfil"])(
        with_form(
            ShipForm,
            "Mark orders shipped",
            lambda data: (
                lambda order_id, meta: ShipOrder(
                    order_id=order_id, tracking_number=data["tracking_number"], carrier=data["carrier"], metadata=meta
                )
            ),
        )
    )


@admin.register(OrderDetail)
class OrderDetailAdmin(ReadOnlyAdmin):
    list_display = ("order_number", "status", "customer_id", "total_amount", "currency", "updated_at")
    list_filter = ("status", "currency")
    search_fields = ("order_number", "=order_id", "=customer_id")
    date_hierarchy = "created_at"
    fields = (
        "order_number",
        "order_id",
        "status",
        "customer_id",
        "customer_email",
        "lines_table",
        "total_amount",
        "currency",
        "payment_method",
        "payment_id",
        "shipping",
        "change_address",
        "billing",
        "tracking_number",
        "carrier",
        "cancel_reason",
        "refund_due",
        "timeline_table",
        "timeline_count",
        "created_at",
        "updated_at",
        "version",
        "events",
        "story",
    )
    readonly_fields = fields

    @admin.display(description="lines")
    def lines_table(self, order: OrderDetail) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (line["sku"], line.get("name") or "", line["quantity"], line["unit_price"], line["line_total"])
                for line in order.lines
            ),
        )
        return format_html(
            "<table><tr><th>SKU</th><th>product</th><th>qty</th><th>unit</th><th>total</th></tr>{}</table>", rows
        )

    @admin.display(description="shipping address")
    def shipping(self, order: OrderDetail) -> str:
        return address_block(order.shipping_address)

    @admin.display(description="billing address")
    def billing(self, order: OrderDetail) -> str:
        return address_block(order.billing_address)

    @admin.display(description="timeline")
    def timeline_table(self, order: OrderDetail) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((e["occurred_at"][:19].replace("T", " "), e["event_type"], e["description"]) for e in order.timeline),
        )
        return format_html("<table>{}</table>", rows)

    @admin.display(description="event log")
    def events(self, order: OrderDetail) -> str:
        archived = event_store().archived(str(order.order_id))
        if archived is not None:
            # Its events are only in cold storage: the history endpoint serves them from there.
            history = reverse("order-history", args=[order.order_id])
            return format_html(
                "<strong id='archived'>archived</strong> on {}: its {} events are in cold storage"
                " (<a href='{}'>history</a>); it takes no command until"
                " <code>manage.py restore_stream {}</code> brings it back",
                f"{archived.archived_at:%Y-%m-%d}" if archived.archived_at else "",
                archived.event_count,
                history,
                order.order_id,
            )
        url = reverse("admin:eventlog_storedevent_changelist") + f"?stream_id={order.order_id}"
        return format_html("<a href='{}'>this order's events</a>", url)

    @admin.display(description="story")
    def story(self, order: OrderDetail) -> str:
        url = reverse("order-history", args=[order.order_id]) + "?story=true"
        return format_html("<a href='{}'>everything that happened around this order</a>", url)

    @admin.display(description="change of address")
    def change_address(self, order: OrderDetail) -> str:
        url = reverse("admin:readmodels_ordersummary_address", args=[order.order_id])
        return format_html("<a href='{}' id='change-address'>change the shipping address</a>", url)


@admin.register(CustomerOrderStats)
class CustomerOrderStatsAdmin(ReadOnlyAdmin):
    list_display = (
        "customer_id",
        "orders_count",
        "open_orders_count",
        "cancelled_orders_count",
        "lifetime",
        "last_order_at",
    )
    search_fields = ("customer_id",)
    date_hierarchy = "last_order_at"
    readonly_fields = (
        "customer_id",
        "orders_count",
        "open_orders_count",
        "cancelled_orders_count",
        "lifetime",
        "last_order_at",
        "orders",
    )

    @admin.display(description="lifetime value (paid, not cancelled)")
    def lifetime(self, stats: CustomerOrderStats) -> str:
        values = CustomerLifetimeValue.objects.filter(customer_id=stats.customer_id).order_by("currency")
        return ", ".join(str(Money(value.amount, value.currency)) for value in values) or "-"

    @admin.display(description="orders")
    def orders(self, stats: CustomerOrderStats) -> str:
        url = reverse("admin:readmodels_ordersummary_changelist") + "?" + urlencode({"customer_id": stats.customer_id})
        return format_html("<a href='{}'>this customer's orders</a>", url)


@admin.register(DailySales)
class DailySalesAdmin(ReadOnlyAdmin):
    list_display = (
        "day",
        "currency",
        "orders_placed",
        "orders_paid",
        "revenue",
        "refunds_paid",
        "cancellations",
        "refunded",
    )
    list_filter = ("currency",)
    date_hierarchy = "day"
