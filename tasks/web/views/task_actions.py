"""Acting on a task from its pages (admins): start, stop. The same services as the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tasks import i18n
from tasks.access import get_admin_project_for_user
from tasks.errors import PortalError
from tasks.services.task_actions import InvalidState, task_start, task_stop
from tasks.vas.errors import VasError
from tasks.web.views.task_pages import render_task_error


def _act(request: HttpRequest, project, service: str, task_id: str, *, start: bool):
    project = get_admin_project_for_user(request.user, project)
    run = task_start if start else task_stop
    try:
        result = run(actor=request.user, project=project, service=service, task_id=task_id)
    except InvalidState as exc:
        # Not an error page: the detail page, with the reason and the state as it is.
        messages.warning(request, i18n.error_message(exc))
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    else:
        state = i18n.state_name(str(result.task.get("state") or ""))
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
