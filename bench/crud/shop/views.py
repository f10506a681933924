"""The order endpoints: create, read, list, and the state transitions.

A transition runs in one transaction holding the order's row lock (select_for_update), so two
concurrent transitions of one order serialize and the second sees the first's status. Answers
carry `position` as the product's do; here it is the order's version (there is no log, and a
read sees every committed write, so `?min_position=` has nothing to wait for).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from bench.crud.shop.models import Order
from bench.crud.shop.serializers import OrderCreate, OrderDetail, OrderSummary, Payment, Shipment

Change = Callable[[Order], None]


def written(order: Order, code: int = status.HTTP_200_OK) -> Response:
    return Response({"order_id": str(order.id), "version": order.version, "position": order.version}, status=code)


class OrderViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet[Order]):
    def get_queryset(self) -> QuerySet[Order]:
        orders = Order.objects.all()
        if self.action == "retrieve":
            return orders.prefetch_related("lines")
        for name in ("status", "customer_id"):
            if value := self.request.query_params.get(name):
                orders = orders.filter(**{name: value})
        return orders

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return OrderDetail if self.action == "retrieve" else OrderSummary

    def create(self, request: Request) -> Response:
        form = OrderCreate(data=request.data)
        form.is_valid(raise_exception=True)
        order = form.save()
        response = written(order, status.HTTP_201_CREATED)
        response["Location"] = f"/api/orders/{order.id}/"
        return response

    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        return self.transition(pk, Order.Status.PENDING, Order.Status.CONFIRMED)

    @action(detail=True, methods=["post"])
    def pay(self, request: Request, pk: str) -> Response:
        form = Payment(data=request.data)
        form.is_valid(raise_exception=True)

        def pay(order: Order) -> None:
            if form.validated_data["amount"] != order.total_amount:
                raise Refused(f"The payment amount must equal the order total {order.total_amount}.")
            order.payment_id = form.validated_data["payment_id"]

        return self.transition(pk, Order.Status.CONFIRMED, Order.Status.PAID, pay)

    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        form = Shipment(data=request.data)
        form.is_valid(raise_exception=True)

        def ship(order: Order) -> None:
            order.tracking_number = form.validated_data["tracking_number"]
            order.carrier = form.validated_data["carrier"]

        return self.transition(pk, Order.Status.PAID, Order.Status.SHIPPED, ship)

    def transition(self, pk: str, source: str, target: str, change: Change | None = None) -> Response:
        """Move the order from `source` to `target` under its row lock; 409 from any other status."""
        try:
            with transaction.atomic():
                order = get_object_or_404(Order.objects.select_for_update(), pk=pk)
                if order.status != source:
                    detail = f"Cannot move an order in status {order.status} to {target}."
                    return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
                if change is not None:
                    change(order)
                order.status, order.version = target, order.version + 1
                order.save()
        except Refused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return written(order)


class Refused(Exception):
    """Valid input that breaks a business rule (422); raised inside the transaction, so nothing is written."""
