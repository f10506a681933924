"""The CRUD service's order app."""

from __future__ import annotations

from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "bench.crud.shop"
    label = "crudshop"
    default_auto_field = "django.db.models.BigAutoField"
