"""Product stock query endpoints: the ProductStock read model only."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from readmodels.api.filters import ProductStockFilter
from readmodels.api.serializers import ProductPageOut, ProductStockOut
from readmodels.api.views import MIN_POSITION, QUERY_ERRORS, STALE, OrderPagination, QueryView, answer, read_your_writes
from readmodels.queries import GetProduct, ListProducts, ask
from web.serializers import problem_responses


class ProductListView(QueryView):
    """GET /api/products/: the products' stock, by SKU, paged; ?q= searches, ?low_stock=true narrows."""

    @extend_schema(
        operation_id="list_products",
        parameters=[
            OpenApiParameter(
                "q", OpenApiTypes.STR, description="Products whose SKU or name contains every word (any case)."
            ),
            OpenApiParameter(
                "low_stock",
                OpenApiTypes.STR,
                enum=["true", "false"],
                description="`true`: only products with at most `LOW_STOCK_THRESHOLD` (default 5) available.",
            ),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 200; default 50."),
            MIN_POSITION,
            STALE,
        ],
        responses={200: ProductPageOut, **problem_responses({404: "No such page"}), **QUERY_ERRORS},
        tags=["queries"],
    )
    def get(self, request: Request) -> Response:
        selection = ProductStockFilter(request.query_params).selection()
        stale = read_your_writes(request)
        paginator = OrderPagination()
        rows = ask(ListProducts(**selection))  # a lazy Sequence, which Django's Paginator accepts
        page = paginator.paginate_queryset(rows, request, view=self)
        response = paginator.get_paginated_response(ProductStockOut(page, many=True).data)
        if stale:
            response["X-Read-Model-Stale"] = "true"
        return response


class ProductDetailView(QueryView):
    """GET /api/products/{sku}/: one product's stock."""

    @extend_schema(
        operation_id="get_product",
        parameters=[MIN_POSITION, STALE],
        responses={
            200: ProductStockOut,
            **problem_responses({404: "Unknown (or not yet projected) product"}),
            **QUERY_ERRORS,
        },
        tags=["queries"],
    )
    def get(self, request: Request, sku: str) -> Response:
        stale = read_your_writes(request)
        # A NUL cannot be stored (PostgreSQL refuses it in a query), so no product has one.
        stock = None if "\x00" in sku else ask(GetProduct(sku=sku))
        if stock is None:
            raise exceptions.NotFound(f"Product {sku} does not exist")
        return answer(ProductStockOut(stock).data, stale)
