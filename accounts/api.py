"""Token endpoints: issue (POST /api/auth/token/), revoke the token used (logout/) or all of
the user's tokens (logout-all/).

Tokens are django-rest-knox's (web/authentication.py): stored hashed, with an expiry (REST_KNOX
TOKEN_TTL), sent as `Authorization: Token <token>`. Issuing one is throttled per client
address and per username, and a username that keeps failing from one address is locked out
by axes (the AxesStandaloneBackend refuses it inside `authenticate`): that answers 429
problem+json with Retry-After, like a throttle, never axes' page.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from axes.helpers import get_lockout_message
from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from knox.views import LoginView, LogoutAllView, LogoutView
from rest_framework import exceptions, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.lockout import retry_after_seconds
from web.authentication import TokenAuthentication, delete_expired_tokens
from web.serializers import problem_responses
from web.sliding_window import SlidingWindowThrottle
from web.throttles import CacheOutageTolerant, ScopedThrottle


def normalized_username(value: str) -> str:
    """One key for the spellings of a name: compatibility-normalised, trimmed, case-folded
    (the serializer trims too, so " ann" signs in as "ann" and must count as "ann")."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


class UsernameThrottle(CacheOutageTolerant, SlidingWindowThrottle):
    """The `auth_username` rate per username in the body, whatever address it comes from:
    guessing one account's password from many addresses is bounded too. A body without a
    string username is left to the per-address throttle (and answers 400)."""

    scope = "auth_username"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str):
            return None
        # Hashed: any length and any character make a valid cache key.
        ident = hashlib.sha256(normalized_username(username).encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


@extend_schema_serializer(component_name="AuthToken")
class CredentialsIn(AuthTokenSerializer):
    """A username and its password."""

    # No longer than any account's: refused (400) before authentication, where axes would fail
    # to record the attempt (its columns hold 255 characters).
    username = serializers.CharField(
        label="Username", write_only=True, max_length=User.username.field.max_length or 150
    )


class LockedOut(exceptions.Throttled):
    """Too many failed logins for this username from this address (axes)."""


TOKEN_OUT = inline_serializer(
    "TokenOut",
    {"token": serializers.CharField(), "expiry": serializers.DateTimeField(allow_null=True, required=False)},
)
UNAUTHENTICATED = problem_responses({401: "No token, or an expired or revoked one"})


class TokenView(LoginView):
    """POST /api/auth/token/ {"username", "password"} -> {"token", "expiry"}."""

    # The credentials are in the body: no session or token is read, so no CSRF check applies.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle, UsernameThrottle]
    throttle_scope = "auth"

    @extend_schema(
        operation_id="obtain_token",
        tags=["auth"],
        auth=[],
        request=CredentialsIn,
        responses={
            200: TOKEN_OUT,
            **problem_responses(
                {
                    400: "Wrong username or password",
                    415: "The body is not JSON, form data or a well-formed multipart body",
                    429: "Too many attempts, or locked out after repeated failures (see Retry-After)",
                }
            ),
        },
    )
    def post(self, request: Request, format: str | None = None) -> Response:
        credentials = CredentialsIn(data=request.data, context={"request": request})
        if not credentials.is_valid():
            # Set by axes when this failure reached the limit, or the pair was already locked.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=retry_after_seconds(request), detail=str(get_lockout_message()))
            raise exceptions.ValidationError(credentials.errors)
        user = credentials.validated_data["user"]
        delete_expired_tokens(user)
        request.user = user
        response: Response = super().post(request, format)
        return response


REVOKED: dict[Any, Any] = {204: OpenApiResponse(description="Revoked"), **UNAUTHENTICATED}


class RevokeTokenView(LogoutView):
    """POST /api/auth/logout/: revoke the token this request carries."""

    authentication_classes = [TokenAuthentication]

    @extend_schema(operation_id="revoke_token", tags=["auth"], request=None, responses=REVOKED)
    def post(self, request: Request, format: str | None = None) -> Response:
        response: Response = super().post(request, format)
        return response


class RevokeAllTokensView(LogoutAllView):
    """POST /api/auth/logout-all/: revoke every token of this request's user."""

    authentication_classes = [TokenAuthentication]

    @extend_schema(operation_id="revoke_all_tokens", tags=["auth"], request=None, responses=REVOKED)
    def post(self, request: Request, format: str | None = None) -> Response:
        response: Response = super().post(request, format)
        return response
