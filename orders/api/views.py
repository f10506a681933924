"""Command endpoints: parse the request, build the command, hand it to the bus, answer ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from eventlog.store import event_store
from orders.api.permissions import CANCEL, FORGET, FULFIL, PLACE, REFUND, RETURN
from orders.api.serializers import (
    CancelOrderIn,
    ChangeShippingAddressIn,
    CommandResultOut,
    CreateOrderIn,
    CustomerForgottenOut,
    LineItemIn,
    PayOrderIn,
    RefundOrderIn,
    ReturnOrderIn,
    ShipOrderIn,
    create_order,
)
from orders.commands import (
    AddOrderItem,
    CancelOrder,
    ChangeShippingAddress,
    ConfirmOrder,
    DeliverOrder,
    ForgetCustomer,
    PayOrder,
    RefundOrder,
    RemoveOrderItem,
    ReturnOrder,
    ShipOrder,
)
from orders.errors import OrderNotFound
from web.serializers import problem_responses
from writeside import bus
from writeside.api.http import command_options
from writeside.api.views import COMMAND_HEADERS, CommandView
from writeside.unit_of_work import CommandResult

LOCATION = [
    OpenApiParameter(
        "Location",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[201],
        description="/api/orders/<order_id>/ (the read model may lag: pass `position` as min_position)",
    )
]
ERRORS = problem_responses(
    {
        400: "Malformed JSON, missing or invalid field, or X-Correlation-ID of another user's story",
        401: "Not authenticated",
        403: "Missing the permission for this command",
        404: "Unknown order",
        409: "Not allowed in the order's state, or still conflicting after retries",
        412: "If-Match does not match the order's version",
        415: "The body is not JSON, form data or a well-formed multipart body",
        422: "A business rule is broken, or the Idempotency-Key was used with another body",
        429: "Too many requests",
    }
)


def parse_order_id(value: str) -> UUID:
    """The order id from the path; anything that is not a UUID names no order (404)."""
    try:
        return UUID(value)
    except ValueError:
        raise OrderNotFound(f"Order {value} does not exist") from None


ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Response])


def command_schema(
    body: type[serializers.Serializer[Any]] | None,
    success: int = 200,
    **kwargs: Any,
) -> Callable[[ViewMethod], ViewMethod]:
    """OpenAPI description shared by the command endpoints."""
    return extend_schema(
        request=body,
        responses={success: CommandResultOut, **ERRORS},
        parameters=COMMAND_HEADERS + (LOCATION if success == status.HTTP_201_CREATED else []),
        tags=["commands"],
        **kwargs,
    )


class OrderCommandView(CommandView):
    """Base of the order command endpoints: answers name the order."""

    @staticmethod
    def body(result: CommandResult) -> dict[str, Any]:
        """The contract's answer: order id, version, position."""
        return {"order_id": result.stream_id, "version": result.version, "position": result.position}


class CreateOrderView(OrderCommandView):
    """POST /api/orders/: place an order."""

    required_permission = PLACE

    @command_schema(CreateOrderIn, success=201, operation_id="create_order")
    def post(self, request: Request) -> Response:
        data = self.valid(CreateOrderIn, request)
        response = self.dispatch_command(create_order(data, **command_options(request)), status.HTTP_201_CREATED)
        response["Location"] = f"/api/orders/{response.data['order_id']}/"
        return response


class AddOrderItemView(OrderCommandView):
    """POST /api/orders/{id}/items/: add a SKU (adds to its quantity if already there)."""

    required_permission = PLACE

    @command_schema(LineItemIn, operation_id="add_order_item")
    def post(self, request: Request, order_id: str) -> Response:
        data = self.valid(LineItemIn, request)
        return self.dispatch_command(
            AddOrderItem(order_id=parse_order_id(order_id), **data, **command_options(request))
        )


class RemoveOrderItemView(OrderCommandView):
    """DELETE /api/orders/{id}/items/{sku}/: take a line off a pending order."""

    required_permission = PLACE

    @command_schema(None, operation_id="remove_order_item")
    def delete(self, request: Request, order_id: str, sku: str) -> Response:
        command = RemoveOrderItem(order_id=parse_order_id(order_id), sku=sku, **command_options(request))
        return self.dispatch_command(command)


class ConfirmOrderView(OrderCommandView):
    """POST /api/orders/{id}/confirm/."""

    required_permission = PLACE

    @command_schema(None, operation_id="confirm_order")
    def post(self, request: Request, order_id: str) -> Response:
        return self.dispatch_command(ConfirmOrder(order_id=parse_order_id(order_id), **command_options(request)))


class PayOrderView(OrderCommandView):
    """POST /api/orders/{id}/pay/: the amount must equal the order total; a cancelled order
    records the payment and owes it back."""

    required_permission = FULFIL

    @command_schema(PayOrderIn, operation_id="pay_order")
    def post(self, request: Request, order_id: str) -> Response:
        data = self.valid(PayOrderIn, request)
        return self.dispatch_command(PayOrder(order_id=parse_order_id(order_id), **data, **command_options(request)))


class ShipOrderView(OrderCommandView):
    """POST /api/orders/{id}/ship/."""

    required_permission = FULFIL

    @command_schema(ShipOrderIn, operation_id="ship_order")
    def post(self, request: Request, order_id: str) -> Response:
        data = self.valid(ShipOrderIn, request)
        return self.dispatch_command(ShipOrder(order_id=parse_order_id(order_id), **data, **command_options(request)))


class DeliverOrderView(OrderCommandView):
    """POST /api/orders/{id}/deliver/."""

    required_permission = FULFIL

    @command_schema(None, operation_id="deliver_order")
    def post(self, request: Request, order_id: str) -> Response:
        return self.dispatch_command(DeliverOrder(order_id=parse_order_id(order_id), **command_options(request)))


class ChangeShippingAddressView(OrderCommandView):
    """POST /api/orders/{id}/address/: until the order ships (409 once shipped, delivered or cancelled)."""

    required_permission = PLACE

    @command_schema(ChangeShippingAddressIn, operation_id="change_shipping_address")
    def post(self, request: Request, order_id: str) -> Response:
        data = self.valid(ChangeShippingAddressIn, request)
        return self.dispatch_command(
            ChangeShippingAddress(order_id=parse_order_id(order_id), **data, **command_options(request))
        )


class CancelOrderView(OrderCommandView):
    """POST /api/orders/{id}/cancel/."""

    required_permission = CANCEL

    @command_schema(CancelOrderIn, operation_id="cancel_order")
    def post(self, request: Request, order_id: str) -> Response:
        data = self.valid(CancelOrderIn, request)
        return self.dispatch_command(CancelOrder(order_id=parse_order_id(order_id), **data, **command_options(request)))


class RefundOrderView(OrderCommandView):
    """POST /api/orders/{id}/refund/: record a refund paid, at most what the order owes (422);
    the same refund_id again changes nothing."""

    required_permission = REFUND

    @command_schema(RefundOrderIn, operation_id="refund_order")
    def post(self, request: Request, order_id: str) -> Response:
        data = self.valid(RefundOrderIn, request)
        return self.dispatch_command(RefundOrder(order_id=parse_order_id(order_id), **data, **command_options(request)))


class ReturnOrderView(OrderCommandView):
    """POST /api/orders/{id}/return/: take back some or all of a delivered order's goods (409
    in other states; 422 for a SKU not on the order or more than is left to return)."""

    required_permission = RETURN

    @command_schema(ReturnOrderIn, operation_id="return_order")
    def post(self, request: Request, order_id: str) -> Response:
        data = self.valid(ReturnOrderIn, request)
        return self.dispatch_command(
            ReturnOrder(
                order_id=parse_order_id(order_id),
                lines=tuple(data["lines"]),
                reason=data["reason"],
                restock=data["restock"],
                **command_options(request),
            )
        )


class ForgetCustomerView(CommandView):
    """POST /api/customers/{customer_id}/forget/: erase the customer's personal data."""

    required_permission = FORGET

    @extend_schema(
        request=None,
        responses={
            200: CustomerForgottenOut,
            **problem_responses(
                {
                    400: "The customer id is blank or longer than 64 characters",
                    401: "Not authenticated",
                    403: "Missing the permission orders.forget_customer",
                    404: "No order ever named this customer (and they were never forgotten)",
                    409: "Still conflicting with concurrent changes after retries",
                    429: "Too many requests",
                }
            ),
        },
        parameters=COMMAND_HEADERS,
        tags=["commands"],
        operation_id="forget_customer",
    )
    def post(self, request: Request, customer_id: str) -> Response:
        result = bus.handle(ForgetCustomer(customer_id=customer_id, **command_options(request)))
        # The moment of the last forgetting: this one, or the earlier one a repeat leaves as is.
        (forgotten,) = event_store().read_stream(result.stream_id, after_version=result.version - 1)
        return Response({"customer_id": customer_id, "forgotten_at": forgotten.recorded_at})
