"""Projection status, dead letters and rebuilds in the admin.

Least privilege: being staff opens no page here. Each page needs a view permission and
every operator action (each POST: retry, skip, rebuild) a change permission, all on
existing models, so they are granted in the admin's user and group forms like any other:

* the projections page lists the dead letters (error, stream) as the DeadLetter list does,
  so whoever may view that list may see it (`projector.view_deadletter`, or the change
  permission, which implies view in Django's admin) and nobody else;
* retry, skip and rebuild (by a full replay, or from the rows archived streams carry) each
  change dead letters (resolve one, skip one, or clear a projection's blocking ones before
  replaying it), and DeadLetterAdmin is read-only, so
  `projector.change_deadletter` grants these actions and nothing else; it grants the
  verification of the books too (`manage.py verify`: it changes no live row, but takes the
  rebuild lock and builds shadow tables).

(Dead letters and checkpoints lived in `readmodels` until the engine got a package of its
own; migration projector 0001 moved their content types, so the permissions granted then
are the ones above.)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from eventlog.admin import ReadOnlyAdmin
from projector import shadow
from projector.carried import CorruptCarriedRows
from projector.dead_letters import SkipRefused
from projector.loop import Projector, read_database
from projector.models import DeadLetter
from projector.rebuild import refuse_process_managers
from projector.rebuild_progress import progress_key, rebuild_by_name
from projector.registry import all_projections
from projector.shadow import RebuildRunning
from projector.status import projection_status
from projector.verification import Options, verify

OPERATE_PROJECTIONS = "projector.change_deadletter"
# The page's verification runs in the request: it waits less for a lagging consumer than the
# command does, and shows this many divergences.
VERIFY_WAIT_SECONDS = 10.0
VERIFY_SHOWN = 50
# Said when a rows file is damaged: the two ways on (docs/operations.md, "Archive").
CORRUPT_ROWS_ADVICE = "Rebuild without 'from archive rows', or run manage.py carry_archived_rows first."


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = (
        "projection",
        "position",
        "event_type",
        "stream_id",
        "status",
        "attempts",
        "error",
        "last_failed_at",
    )
    list_filter = ("projection", "status", "event_type")
    search_fields = ("=stream_id", "=event_id")


def may_view(request: HttpRequest, model: type[Model]) -> bool:
    """Whether the user may see `model`'s list in this admin: its view or change permission."""
    return admin.site.get_model_admin(model).has_view_permission(request)


def require_view(request: HttpRequest, model: type[Model]) -> None:
    if not may_view(request, model):
        raise PermissionDenied(f"This page needs the permission to view {model._meta.verbose_name_plural}.")


def _rebuilds() -> dict[str, dict[str, Any]]:
    progress = {name: cache.get(progress_key(name)) for name in all_projections()}
    return {name: value for name, value in progress.items() if value}


@require_http_methods(["GET", "POST"])
def projection_status_view(request: HttpRequest) -> HttpResponse:
    """Per projection: position, head, lag, dead letters; retry, skip and rebuild buttons."""
    require_view(request, DeadLetter)
    can_operate = request.user.has_perm(OPERATE_PROJECTIONS)
    if request.method == "POST":
        if not can_operate:
            raise PermissionDenied(
                "Retrying, skipping, rebuilding and verifying need the permission to change dead letters."
            )
        _act(request)
        return HttpResponseRedirect(request.path)
    rebuilds = _rebuilds()
    return TemplateResponse(
        request,
        "admin/projector/projection_status.html",
        {
            **admin.site.each_context(request),
            "title": "Projections",
            "statuses": projection_status(),
            "rebuildable": {name for name, projection in all_projections().items() if projection.rebuildable},
            # Said before an operator presses Rebuild: without blue/green, live projection of
            # the projection stops until the rebuild commits.
            "in_place": not shadow.possible(read_database()),
            "letters": DeadLetter.objects.filter(status__in=[DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED]),
            "held": DeadLetter.objects.filter(status=DeadLetter.Status.HELD).count(),
            "rebuilds": rebuilds,
            "running": any("finished_at" not in progress for progress in rebuilds.values()),
            "can_operate": can_operate,
        },
    )


def _act(request: HttpRequest) -> None:
    if request.POST.get("action") == "verify":
        _verify(request)
        return
    projections = all_projections()
    name = request.POST.get("projection", "")
    if name not in projections:
        messages.error(request, f"Unknown projection {name!r}.")
        return
    action, stream = request.POST.get("action"), request.POST.get("stream_id", "")
    if action in {"retry", "skip"}:
        try:
            unblocked = Projector(projections[name]).retry_stream(stream, skip_first=action == "skip")
        except SkipRefused as error:
            messages.error(request, str(error))
            return
        if unblocked:
            messages.success(request, f"{name}: stream {stream} is flowing again.")
        else:
            messages.warning(request, f"{name}: stream {stream} still fails; see the error below.")
    elif action == "rebuild":
        _rebuild(request, name)


def _rebuild(request: HttpRequest, name: str) -> None:
    """Rebuild one projection, in the request (PROJECTIONS_INLINE) or queued; from the rows
    archived streams carry if the operator ticked it (the full replay stays the default: it
    depends on nothing but the events, which is what a repair should depend on)."""
    chosen = request.POST.get("from_archive_rows", "")
    if chosen not in {"", "1"}:
        messages.error(request, f"The choice 'from archive rows' is 1 or absent, not {chosen!r}; nothing was rebuilt.")
        return
    from_archive_rows = chosen == "1"
    how = " from archive rows" if from_archive_rows else ""
    try:
        refuse_process_managers([all_projections()[name]])  # before queueing a task that would fail
    except ValueError as error:
        messages.error(request, str(error))
        return
    if not settings.PROJECTIONS_INLINE:
        from projector.tasks import queue_rebuild

        queue_rebuild([name], from_archive_rows=from_archive_rows)
        messages.success(request, f"Rebuild of {name}{how} queued; progress shows below.")
        return
    replayed: list[str] = []
    try:
        heads = rebuild_by_name(
            [name],
            phase=lambda step: replayed.append(step) if step.startswith("replaying ") else None,
            from_archive_rows=from_archive_rows,
        )
    except RebuildRunning as error:
        messages.error(request, str(error))
        return
    except CorruptCarriedRows as error:
        messages.error(request, f"{error}; nothing was changed. {CORRUPT_ROWS_ADVICE}")
        return
    for step in replayed:
        messages.warning(request, f"{step}.")
    messages.success(request, f"Rebuilt {name}{how} up to position {heads[name]}.")


def _verify(request: HttpRequest) -> None:
    """Run every check of `manage.py verify` now and show what diverges, as messages."""
    try:
        found = verify(options=Options(wait_seconds=VERIFY_WAIT_SECONDS))
    except RebuildRunning as error:
        messages.error(request, str(error))
        return
    if not found:
        messages.success(request, "The books verify: no divergence.")
        return
    for divergence in found[:VERIFY_SHOWN]:
        messages.error(request, str(divergence))
    more = f"; the first {VERIFY_SHOWN} are shown, `manage.py verify` prints all" if len(found) > VERIFY_SHOWN else ""
    messages.error(request, f"{len(found)} divergence(s){more}.")
