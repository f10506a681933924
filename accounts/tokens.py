"""The old path of the API's token authentication, kept for one release: a deployment's settings
that still name `accounts.tokens.TokenAuthentication` in REST_FRAMEWORK keep working. The class
lives in web/authentication.py (every API request passes it, both sides'); name that instead."""

from __future__ import annotations

from web.authentication import TokenAuthentication

__all__ = ("TokenAuthentication",)
