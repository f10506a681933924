"""The CRUD service's URLs: the product's order endpoints' paths and shapes, and its token login."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import SimpleRouter

from bench.crud.shop.views import OrderViewSet

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("api/auth/token/", obtain_auth_token),
    path("api/", include(router.urls)),
]
