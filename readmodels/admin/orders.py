"""Orders in the admin: the list, and one page per order with all of it (customer, lines,
addresses, payment, shipment, refunds, timeline, events) and a button for each action its
status allows the user. The buttons post to the write side's admin (orders/admin), which
sends the commands; this module only shows, so the read side never imports the bus."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from eventlog.admin import ReadOnlyAdmin
from eventlog.models import StoredEvent
from orders.admin.forms import AddressForm, offered_actions
from readmodels.admin.order_page import order_page_context
from readmodels.admin.refunds import RefundOwedFilter, refund_owed
from readmodels.amounts import format_money
from readmodels.models import CustomerLifetimeValue, CustomerOrderStats, DailySales, OrderDetail, OrderSummary
from readmodels.selectors.order_search import matching


def redirect_keeping_method(url: str) -> HttpResponse:
    """A moved page: 307 keeps a POST a POST (with its body), so an old form still works."""
    response = HttpResponseRedirect(url)
    response.status_code = 307
    return response


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "status",
        "customer_name",
        "customer_email",
        "customer",
        "item_count",
        "total",
        refund_owed,
        "created_at",
        "updated_at",
    )
    list_display_links = ("number",)
    list_filter = ("status", "currency", RefundOwedFilter)
    # The API's search (?q=, readmodels/search.py), so staff find the same orders in both;
    # get_search_results reads it, and an order id finds its order.
    search_fields = ("search_text",)
    search_help_text = "Order number, customer id or e-mail, SKU, shipping name or city: parts of words, any case."
    date_hierarchy = "created_at"
    list_per_page = 50
    # Actions are buttons on each order's page, sent by the write side's admin.
    actions = None

    def get_urls(self) -> list[URLPattern]:
        # Ahead of the default "<object_id>/..." patterns, which would take these paths.
        view = self.admin_site.admin_view
        return [
            # The phone order page moved to the write side; its old address still leads there.
            path("phone-order/", view(lambda request: redirect_keeping_method(reverse("admin-order-phone")))),
            path("<uuid:order_id>/address/", view(self.address_page), name="readmodels_ordersummary_address"),
            *super().get_urls(),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OrderSummary], search_term: str
    ) -> tuple[QuerySet[OrderSummary], bool]:
        try:
            return queryset.filter(order_id=UUID(search_term.strip())), False
        except ValueError:
            return matching(queryset, search_term), False

    @admin.display(description="order", ordering="order_number")
    def number(self, order: OrderSummary) -> str:
        return order.order_number

    @admin.display(description="customer", ordering="customer_id")
    def customer(self, order: OrderSummary) -> str:
        url = reverse("admin:readmodels_customerorderstats_change", args=[order.customer_id])
        return format_html("<a href='{}'>{}</a>", url, order.customer_id)

    @admin.display(description="total", ordering="total_amount")
    def total(self, order: OrderSummary) -> str:
        return format_money(order.total_amount, order.currency)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The whole order, with the buttons its status allows the user."""
        if not self.has_view_permission(request):
            return super().change_view(request, object_id, form_url, extra_context)
        summary = OrderSummary.objects.filter(order_id=object_id).first()
        if summary is None:
            return self.not_projected_yet(request, object_id)
        return TemplateResponse(
            request,
            "admin/readmodels/order_page.html",
            {
                **self.admin_site.each_context(request),
                **order_page_context(request, summary),
                "opts": self.model._meta,
            },
        )

    def not_projected_yet(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """An order just placed (a phone order under Celery) may be in the log before it is
        in the list: say so on the list rather than a 404; an order nobody placed is a 404."""
        try:
            stream = str(UUID(object_id))
        except ValueError:
            raise Http404 from None
        if not StoredEvent.objects.filter(stream_id=stream).exists():
            raise Http404
        messages.info(
            request, "The order is recorded; its page fills in once the projection has run. Try again shortly."
        )
        return HttpResponseRedirect(reverse("admin:readmodels_ordersummary_changelist"))

    def address_page(self, request: HttpRequest, order_id: UUID) -> HttpResponse:
        """The address form with the order's current address; it posts to the write side."""
        post_to = reverse("admin-order-address", args=[order_id])
        if request.method == "POST":  # an old form's post: to where the command is sent now
            return redirect_keeping_method(post_to)
        summary = get_object_or_404(OrderSummary, order_id=order_id)
        current = OrderDetail.objects.filter(order_id=order_id).values_list("shipping_address", flat=True).first()
        offered = [action.name for action in offered_actions(summary.status, request.user)]
        if "address" not in offered:
            return HttpResponseRedirect(reverse("admin:readmodels_ordersummary_change", args=[order_id]))
        return TemplateResponse(
            request,
            "admin/orders/command_page.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Change the shipping address of {summary.order_number}",
                "forms": [AddressForm(initial=current or {})],
                "post_to": post_to,
                "back": reverse("admin:readmodels_ordersummary_change", args=[order_id]),
            },
        )


@admin.register(OrderDetail)
class OrderDetailAdmin(ReadOnlyAdmin):
    """Not a page of its own any more: the order's page shows all of it. Kept registered so
    old links (…/orderdetail/<id>/change/) lead to the order's page."""

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}  # out of the menu

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:readmodels_ordersummary_changelist"))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:readmodels_ordersummary_change", args=[object_id]))


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
        return ", ".join(format_money(value.amount, value.currency) for value in values) or "-"

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
        "revenue_shown",
        "refunds_paid_shown",
        "cancellations",
        "refunds",
    )
    list_filter = ("currency",)
    date_hierarchy = "day"

    @admin.display(description="revenue", ordering="revenue")
    def revenue_shown(self, sales: DailySales) -> str:
        return format_money(sales.revenue, sales.currency)

    @admin.display(description="refunds paid", ordering="refunds_paid")
    def refunds_paid_shown(self, sales: DailySales) -> str:
        return format_money(sales.refunds_paid, sales.currency)

    @admin.display(description="refunded", ordering="refunded")
    def refunds(self, sales: DailySales) -> str:
        return format_money(sales.refunded, sales.currency)
