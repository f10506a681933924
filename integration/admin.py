"""The admin's page of dead-lettered inbound messages: list them, replay one.

Least privilege, as on the projections page: being staff opens nothing here. Listing needs
`integration.view_inbounddeadletter` (or the change permission, which implies view as in
Django's admin), replaying needs `integration.change_inbounddeadletter` (integration/models.py
says why these are not the projections' permissions). Replay is a POST (CSRF-checked by
Django's middleware) naming the message by its key, through integration/dead_letters.py, the
code path of `manage.py inbound_dead_letters --replay`. With no broker configured, one that
cannot be reached, or a copy it would not take, the page says so instead of failing.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from integration import broker
from integration.dead_letters import DEFAULT_LIMIT, DeadMessage, dead_messages, replay

VIEW = "integration.view_inbounddeadletter"
REPLAY = "integration.change_inbounddeadletter"


@require_http_methods(["GET", "POST"])
def inbound_dead_letters_view(request: HttpRequest) -> HttpResponse:
    """Each dead message's type, source, id, reason, attempts, time and data; a Replay button."""
    can_replay = request.user.has_perm(REPLAY)
    if not (can_replay or request.user.has_perm(VIEW)):
        raise PermissionDenied("This page needs the permission to view dead-lettered inbound messages.")
    if request.method == "POST":
        if not can_replay:
            raise PermissionDenied("Replaying needs the permission to change dead-lettered inbound messages.")
        _replay(request, request.POST.get("key", ""))
        return HttpResponseRedirect(request.path)
    letters: list[DeadMessage] = []
    unavailable = ""
    if broker.configured():
        try:
            letters = dead_messages()
        except broker.BROKER_ERRORS as error:
            unavailable = f"The integration broker cannot be reached ({type(error).__name__}: {error})."
    return TemplateResponse(
        request,
        "admin/integration/inbound_dead_letters.html",
        {
            **admin.site.each_context(request),
            "title": "Dead-lettered inbound messages",
            "configured": broker.configured(),
            "unavailable": unavailable,
            "letters": letters,
            "limit": DEFAULT_LIMIT,
            "can_replay": can_replay,
        },
    )


def _replay(request: HttpRequest, key: str) -> None:
    if not broker.configured():
        messages.error(request, "INTEGRATION_BROKER_URL is not set: there is no inbound queue.")
        return
    try:
        replayed = replay(key) if key else None
    except broker.BROKER_ERRORS as error:
        messages.error(
            request,
            f"Not replayed: the broker could not be reached or would not take the copy ({type(error).__name__}: "
            f"{error}). The message is still in the dead queue.",
        )
        return
    if replayed is not None:
        messages.success(request, f"Replayed {replayed.message_id or replayed.key}: it is back on the inbound queue.")
    else:
        messages.error(request, f"No dead message {key!r} among the first {DEFAULT_LIMIT}.")
