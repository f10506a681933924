"""Token authentication (django-rest-knox, `Authorization: Token <token>`) whose cost per
request does not grow with the number of tokens a user holds.

knox's own check also loads every token of the user on each request to delete the expired
ones: two queries, and 17 ms per request at 1,000 live tokens (measured), which a script that
signs in on each run reaches within a TTL. Here a request checks only the token it carries
(one query); a user's expired tokens are deleted when a new one is issued.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.models import AuthToken
from knox.signals import token_expired


class TokenAuthentication(auth.TokenAuthentication):
    """knox's TokenAuthentication, checking the expiry of the presented token only."""

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        """True, and the token deleted, if it has expired (knox's hook, pinned 5.1.0)."""
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=type(self), username=username, source="auth_token")
        return True


def delete_expired_tokens(user: AbstractBaseUser) -> None:
    """Delete `user`'s expired tokens (one query): run on each issue, so they cannot pile up."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()


class TokenScheme(KnoxTokenScheme):  # type: ignore[no-untyped-call]
    """The OpenAPI security scheme of TokenAuthentication (as drf-spectacular's for knox)."""

    target_class = "web.authentication.TokenAuthentication"
    name = "tokenAuth"
