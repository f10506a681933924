"""Settings of the CRUD service: production-like (DEBUG off, persistent connections), one database.

CRUD_DATABASE_URL names its PostgreSQL database; it never shares the product's.
"""

from __future__ import annotations

import os

import environ

env = environ.Env()
DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY") or "crud-bench-only-" + "x" * 40
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework.authtoken",
    "bench.crud.shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "bench.crud.urls"
WSGI_APPLICATION = "bench.crud.wsgi.application"
DATABASES = {
    "default": env.db_url_config(env("CRUD_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bench_crud"))
}
# What a good deployment does: keep each worker's connection instead of one per request.
DATABASES["default"] |= {"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "COERCE_DECIMAL_TO_STRING": True,
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
