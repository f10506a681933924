"""Product command endpoints, in the style of the order ones: parse, build the command,
hand it to the one bus, answer ids (same problem+json errors, Idempotency-Key, If-Match)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from inventory.api.permissions import ADJUST, MANAGE
from inventory.api.serializers import (
    AdjustStockIn,
    ProductCommandResultOut,
    ReceiveStockIn,
    RegisterProductIn,
    RenameProductIn,
)
from inventory.commands import AdjustStock, ReceiveStock, RegisterProduct, RenameProduct
from inventory.events import check_sku
from kernel.errors import InvalidValue
from web.serializers import problem_responses
from writeside import bus
from writeside.api.http import command_options
from writeside.api.views import COMMAND_HEADERS, CommandView
from writeside.commands import Command
from writeside.unit_of_work import CommandResult

ERRORS = problem_responses(
    {
        400: "Malformed JSON, missing or invalid field, or X-Correlation-ID of another user's story",
        401: "Not authenticated",
        403: "Missing the permission for product commands",
        404: "Unknown product",
        409: "The SKU is registered already, an adjustment would leave on hand below reserved,"
        " or still conflicting after retries",
        412: "If-Match does not match the product's version",
        415: "The body is not JSON, form data or a well-formed multipart body",
        422: "The Idempotency-Key was used with another body",
        429: "Too many requests",
    }
)


ViewMethod = TypeVar("ViewMethod", bound=Callable[..., Response])


def product_command_schema(
    body: type[serializers.Serializer[Any]], success: int, operation_id: str
) -> Callable[[ViewMethod], ViewMethod]:
    """OpenAPI description shared by the product command endpoints."""
    return extend_schema(
        request=body,
        responses={success: ProductCommandResultOut, **ERRORS},
        parameters=COMMAND_HEADERS,
        tags=["products"],
        operation_id=operation_id,
    )


class ProductCommandView(CommandView):
    """Base of the product command endpoints: one permission, answers name the SKU."""

    required_permission = MANAGE

    def path_sku(self, sku: str) -> str:
        """The SKU from the path; one that could never be registered names no product (404)."""
        try:
            check_sku(sku)
        except InvalidValue:
            raise exceptions.NotFound(f"Product {sku} does not exist") from None
        return sku

    def dispatch_product_command(self, command: Command, sku: str, success: int = status.HTTP_200_OK) -> Response:
        """Hand the command to the bus and answer with the SKU, version and position."""
        result: CommandResult = bus.handle(command)
        return Response({"sku": sku, "version": result.version, "position": result.position}, status=success)


class RegisterProductView(ProductCommandView):
    """POST /api/products/: start tracking stock for a SKU."""

    @product_command_schema(RegisterProductIn, status.HTTP_201_CREATED, "register_product")
    def post(self, request: Request) -> Response:
        data = self.valid(RegisterProductIn, request)
        command = RegisterProduct(**data, **command_options(request))
        response = self.dispatch_product_command(command, data["sku"], status.HTTP_201_CREATED)
        response["Location"] = f"/api/products/{data['sku']}/"
        return response


class ReceiveStockView(ProductCommandView):
    """POST /api/products/{sku}/receive/: units arrived."""

    @product_command_schema(ReceiveStockIn, status.HTTP_200_OK, "receive_stock")
    def post(self, request: Request, sku: str) -> Response:
        sku = self.path_sku(sku)
        data = self.valid(ReceiveStockIn, request)
        return self.dispatch_product_command(ReceiveStock(sku=sku, **data, **command_options(request)), sku)


class RenameProductView(ProductCommandView):
    """POST /api/products/{sku}/rename/: change the catalog name."""

    @product_command_schema(RenameProductIn, status.HTTP_200_OK, "rename_product")
    def post(self, request: Request, sku: str) -> Response:
        sku = self.path_sku(sku)
        data = self.valid(RenameProductIn, request)
        return self.dispatch_product_command(RenameProduct(sku=sku, **data, **command_options(request)), sku)


class AdjustStockView(ProductCommandView):
    """POST /api/products/{sku}/adjust/: correct stock on hand after a count, or write units off."""

    required_permission = ADJUST

    @product_command_schema(AdjustStockIn, status.HTTP_200_OK, "adjust_stock")
    def post(self, request: Request, sku: str) -> Response:
        sku = self.path_sku(sku)
        data = self.valid(AdjustStockIn, request)
        return self.dispatch_product_command(AdjustStock(sku=sku, **data, **command_options(request)), sku)
