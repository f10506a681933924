"""Who may send which command: one Django permission per command group (superusers have all)."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class CommandPermission(BasePermission):
    """Unsafe methods need the view's `required_permission`; reads need a signed-in user."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        """True if the user may call this method of the view."""
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        required: str | None = getattr(view, "required_permission", None)
        return required is None or request.user.has_perm(required)
