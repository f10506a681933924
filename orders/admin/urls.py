"""The admin's command pages, under /admin/orders/ (wired ahead of the admin site's own
URLs): each behind the admin's login, each checking its command's permission itself."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, path

from orders.admin.actions import SENDS, order_action
from orders.admin.phone_orders import change_shipping_address, place_phone_order

urlpatterns: list[URLPattern] = [
    path("phone-order/", admin.site.admin_view(place_phone_order), name="admin-order-phone"),
    path("<uuid:order_id>/address/", admin.site.admin_view(change_shipping_address), name="admin-order-address"),
    *(
        path(
            f"<uuid:order_id>/{action}/",
            admin.site.admin_view(order_action),
            {"action": action},
            name=f"admin-order-{action}",
        )
        for action in SENDS
    ),
]
