"""Acting on a task from its pages (admins): start, stop. The same services as the API."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tasks.access import get_admin_project_for_user
from tasks.errors import PortalError, error_text, roi_for_reader
from tasks.roi_geometry import MESSAGES, limits_for
from tasks.services import frames
from tasks.services.task_actions import InvalidState, task_start, task_stop
from tasks.services.task_fetch import task_fetch
from tasks.services.task_roi import kind_labels
from tasks.services.task_upstream import target_roi_path
from tasks.vas.errors import VasError
from tasks.web.display import state_name
from tasks.web.views.task_pages import render_task_error


def _act(request: HttpRequest, project, service: str, task_id: str, *, start: bool):
    project = get_admin_project_for_user(request.user, project)
    run = task_start if start else task_stop
    try:
        result = run(actor=request.user, project=project, service=service, task_id=task_id)
    except InvalidState as exc:
        # Not an error page: the detail page, with the reason and the state as it is.
        messages.warning(request, error_text(exc))
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    else:
        state = state_name(str(result.task.get("state") or ""))
        if start:
            messages.success(
                request, _("Start requested; the task is now %(state)s.") % {"state": state}
            )
        else:
            messages.success(
                request, _("Stop requested; the task is now %(state)s.") % {"state": state}
            )
    return redirect("task_detail", project=project.public_id, service=service, task_id=task_id)


@login_required
@require_POST
def task_start_view(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    return _act(request, project, service, task_id, start=True)


@login_required
@require_POST
def task_stop_view(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    return _act(request, project, service, task_id, start=False)


@login_required
@require_GET
def task_roi_edit(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """The ROI editor (admins): starts from the task's current ROI over its frame; Apply sends
    `PUT …/roi/` from the page's script (session auth and CSRF)."""
    project = get_admin_project_for_user(request.user, project)
    try:
        result = task_fetch(project=project, service=service, task_id=task_id, actor=request.user)
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    kwargs = {"project": project.public_id, "service": service, "task_id": task_id}
    roi = roi_for_reader(result.roi)
    frame = roi.get("frame") or {}
    before: Any = result.task
    for key in target_roi_path(service):
        before = before.get(key) if isinstance(before, dict) else None
    editor = {
        "shapes": roi.get("shapes", []),
        "frame": frame,
        "problems": roi.get("problems", []),
        "service": service,
        "limits": limits_for(service),
        "snapshot_id": result.meta.get("snapshot_id"),
        "target_roi": before if isinstance(before, str) else "",
        "api_url": reverse("api-task-roi", kwargs=kwargs),
        "frame_url": reverse("api-task-frame", kwargs=kwargs)
        if frame.get("assumed") is False
        else None,
        "history_url": reverse("task_history", kwargs=kwargs),
        "detail_url": reverse("task_detail", kwargs=kwargs),
    }
    return render(
        request,
        "tasks/roi_edit.html",
        {
            "project": project,
            "service": service,
            "task_id": task_id,
            "task": result.task,
            "meta": result.meta,
            "roi": roi,
            "editor": editor,
            "strings": _editor_strings(),
            "urls": editor,
            "frame_form_url": reverse("task_frame_form", kwargs=kwargs),
            "has_frame": frame.get("assumed") is False,
            "max_mib": frames.MAX_BYTES // (1024 * 1024),
            "max_side": frames.MAX_SIDE,
        },
    )


def _editor_strings() -> dict[str, object]:
    return {
        "problems": {code: _(text) for code, text in MESSAGES.items()},
        "kinds": kind_labels(),
        "polygon": _("Polygon %(number)s"),
        "line": _("Line %(number)s"),
        "no_problems": _("No problems: the change can be previewed and applied."),
        "drawing_polygon": _(
            "Drawing a polygon: click to add points, then Finish shape (or press Enter)."
        ),
        "drawing_line": _("Drawing a line: click its start, then its end."),
        "selected_point": _("Point %(point)s of %(shape)s at %(x)s, %(y)s."),
        "no_change": _("Nothing changed yet."),
        "applying": _("Applying…"),
        "applied": _(
            "Applied: the task is now version %(snapshot)s. Its history shows the change."
        ),
        "conflict": _(
            "Not applied: the task changed upstream since this editor loaded it. Reload the "
            "editor to start from the current version (your drawing is lost)."
        ),
        "failed": _("Not applied: %(message)s"),
        "whole_frame": _("No shapes: the whole frame is analysed."),
        "history": _("See the history"),
        "reload": _("Reload the editor"),
    }


@login_required
@require_POST
def task_frame_form(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """The editor page's reference-still form (admins): upload (field `image`) or delete."""
    project = get_admin_project_for_user(request.user, project)
    back = redirect("task_roi_edit", project=project.public_id, service=service, task_id=task_id)
    try:
        if request.POST.get("delete") == "1":
            if frames.frame_delete(
                actor=request.user, project=project, service=service, task_id=task_id
            ):
                messages.success(request, _("The reference still was deleted."))
            return back
        upload = request.FILES.get("image")
        if upload is None:
            raise frames.InvalidImage(reason="no_file")
        if (upload.size or 0) > frames.MAX_BYTES:
            raise frames.InvalidImage(
                reason="too_large", params={"mib": frames.MAX_BYTES // (1024 * 1024)}
            )
        frame, _created = frames.frame_put(
            actor=request.user,
            project=project,
            service=service,
            task_id=task_id,
            data=upload.read(frames.MAX_BYTES + 1),
        )
    except frames.InvalidImage as exc:
        messages.error(request, error_text(exc))
        return back
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    messages.success(
        request,
        _("Reference still stored (%(w)s×%(h)s, metadata removed).")
        % {"w": frame.width, "h": frame.height},
    )
    return back
