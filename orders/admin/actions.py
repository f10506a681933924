"""The order page's buttons: each posts here and sends the command the API endpoint of the
same name sends (orders/api/views.py), with its permission and its serializer, through the
bus. What happened, or the domain's reason for refusing, comes back as a message on the
order page; without the permission the answer is 403 and nothing is appended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST
from rest_framework import serializers

from orders.admin.forms import BY_NAME
from orders.admin.phone_orders import order_page
from orders.api.serializers import CancelOrderIn, PayOrderIn, RefundOrderIn, ReturnOrderIn, ShipOrderIn
from orders.commands import CancelOrder, ConfirmOrder, DeliverOrder, PayOrder, RefundOrder, ReturnOrder, ShipOrder
from writeside.sending import Build, require, send

# Per action: the API's serializer of its body (None: no body), the command it sends, and
# what the message says once it is accepted.
Serializer = type[serializers.Serializer[Any]] | None
SENDS: dict[str, tuple[Serializer, Callable[[UUID], Build], str]] = {
    "confirm": (None, lambda order_id: lambda _, meta: ConfirmOrder(order_id=order_id, metadata=meta), "Confirmed."),
    "pay": (
        PayOrderIn,
        lambda order_id: lambda data, meta: PayOrder(order_id=order_id, metadata=meta, **data),
        "Payment recorded.",
    ),
    "ship": (
        ShipOrderIn,
        lambda order_id: lambda data, meta: ShipOrder(order_id=order_id, metadata=meta, **data),
        "Shipped.",
    ),
    "deliver": (
        None,
        lambda order_id: lambda _, meta: DeliverOrder(order_id=order_id, metadata=meta),
        "Marked delivered.",
    ),
    "cancel": (
        CancelOrderIn,
        lambda order_id: lambda data, meta: CancelOrder(order_id=order_id, metadata=meta, **data),
        "Cancelled.",
    ),
    "refund": (
        RefundOrderIn,
        lambda order_id: lambda data, meta: RefundOrder(order_id=order_id, metadata=meta, **data),
        "Refund recorded.",
    ),
    "return": (
        ReturnOrderIn,
        lambda order_id: (
            lambda data, meta: ReturnOrder(
                order_id=order_id,
                lines=tuple(data["lines"]),
                reason=data["reason"],
                restock=data["restock"],
                metadata=meta,
            )
        ),
        "Return recorded.",
    ),
}


def return_body(post: Any) -> dict[str, Any]:
    """The return form as the API's body: a line per `return-<sku>` with a quantity, the
    reason, and whether the goods go back in stock (an unticked box is not sent)."""
    lines = [
        {"sku": key.removeprefix("return-"), "quantity": value}
        for key, value in post.items()
        if key.startswith("return-") and value.strip() not in ("", "0")
    ]
    return {"lines": lines, "reason": post.get("reason", ""), "restock": "restock" in post}


@require_POST
def order_action(request: HttpRequest, order_id: UUID, action: str) -> HttpResponse:
    """Send the action's command; back to the order page with what happened or why not."""
    if action not in SENDS:
        raise Http404
    require(request, BY_NAME[action].permission)
    serializer, build, done = SENDS[action]
    # Only the fields sent: a missing one is the serializer's "required", as through the API.
    fields = serializer().fields if serializer else {}
    body = (
        return_body(request.POST)
        if action == "return"
        else {key: request.POST[key] for key in fields if key in request.POST}
    )
    if send(request, serializer, body, build(order_id)):
        messages.success(request, f"{done} The page shows it once the projection has run.")
    return HttpResponseRedirect(order_page(order_id))
