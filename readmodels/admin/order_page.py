"""What the order page shows: the order in staff's words (customer, lines, addresses,
payment, shipment, money owed back, timeline) with amounts in the currency's minor units,
and the actions its status allows the user (orders/admin/forms.py), each with its form.
Read-model internals (search text, version, projection names) are not shown."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from eventlog.store import event_store
from kernel.money import in_minor_units
from orders.admin.forms import action_url, offered_actions
from readmodels.amounts import format_money
from readmodels.models import OrderDetail, OrderSummary


def address_lines(address: dict[str, str] | None) -> list[str]:
    """An address as the lines printed on a parcel; none when the order has no address."""
    if not address:
        return []
    city = f"{address.get('postal_code', '')} {address.get('city', '')}".strip()
    lines = [
        address.get("name", ""),
        address.get("line1", ""),
        address.get("line2", ""),
        city,
        address.get("country", ""),
    ]
    return [line for line in lines if line]


def timeline_rows(detail: OrderDetail) -> list[dict[str, str]]:
    """What happened, oldest first, to the minute."""
    return [
        {
            "when": entry["occurred_at"][:16].replace("T", " "),
            "what": entry.get("description") or entry["event_type"],
            "event_type": entry["event_type"],
        }
        for entry in detail.timeline
    ]


def action_forms(request: HttpRequest, summary: OrderSummary, detail: OrderDetail | None) -> list[dict[str, Any]]:
    """A button (with its form, if it asks for input) per action the user may take now."""
    shown = []
    for action in offered_actions(summary.status, request.user, owed=summary.refund_due > 0):
        form = None
        if action.form is not None:
            # Paying records exactly the total; the field starts there.
            initial = {
                "pay": {"amount": in_minor_units(summary.total_amount, summary.currency)},
                "refund": {"amount": in_minor_units(summary.refund_due, summary.currency)},
            }.get(action.name, {})
            form = action.form(initial=initial, auto_id=f"id_{action.name}_%s")
        url = (
            reverse("admin:readmodels_ordersummary_address", args=[summary.order_id])
            if action.own_page
            else action_url(action, summary.order_id)
        )
        shown.append(
            {"name": action.name, "label": action.label, "url": url, "form": form, "own_page": action.own_page}
        )
    return shown


def order_page_context(request: HttpRequest, summary: OrderSummary) -> dict[str, Any]:
    """Everything the template needs; the detail may lag the summary by a projection run."""
    detail = OrderDetail.objects.filter(order_id=summary.order_id).first()
    currency = summary.currency
    lines = [
        {
            "sku": line["sku"],
            "name": line.get("name") or "",
            "quantity": line["quantity"],
            "unit_price": format_money(line["unit_price"], currency),
            "line_total": format_money(line["line_total"], currency),
        }
        for line in (detail.lines if detail else [])
    ]
    shipping = detail.shipping_address if detail else None
    events = reverse("admin:eventlog_storedevent_changelist") + f"?stream_id={summary.order_id}"
    # An archived order's events are only in cold storage, and it takes no command until restored.
    archived = event_store().archived(str(summary.order_id))
    return {
        "title": f"Order {summary.order_number}",
        "summary": summary,
        "detail": detail,
        # The list row's name (the shipping name) and e-mail, emptied when the customer is forgotten.
        "customer_name": summary.customer_name or (shipping or {}).get("name") or "",
        "customer_email": summary.customer_email or (detail.customer_email if detail else ""),
        "customer_url": reverse("admin:readmodels_customerorderstats_change", args=[summary.customer_id]),
        "lines": lines,
        "total": format_money(summary.total_amount, currency),
        "refund_due": format_money(summary.refund_due, currency) if summary.refund_due else "",
        "refunded": format_money(summary.refunded, currency) if summary.refunded else "",
        "shipping": address_lines(shipping),
        "billing": address_lines(detail.billing_address if detail else None),
        "timeline": timeline_rows(detail) if detail else [],
        "events_url": events,
        "story_url": reverse("order-history", args=[summary.order_id]) + "?story=true",
        "archived": archived,
        "history_url": reverse("order-history", args=[summary.order_id]),
        "actions": [] if archived is not None else action_forms(request, summary, detail),
    }
