"""VAS → VIAS pages for administrators migrating: a VAS task's VIAS fields, and a project's
tasks of both services side by side by name."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tasks.access import get_project_for_user
from tasks.errors import PortalError
from tasks.services.migration import migration_fields, migration_pairs
from tasks.services.task_fetch import task_fetch
from tasks.vas import VIAS_SERVICE
from tasks.vas.errors import VasError
from tasks.web.task_body import inline
from tasks.web.views.task_pages import render_task_error


@login_required
@require_GET
def task_vias_fields(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """For a VAS task: each field of the differences table and what it becomes in VIAS."""
    project = get_project_for_user(request.user, project)
    try:
        result = task_fetch(project=project, service=service, task_id=task_id, actor=request.user)
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    rows = [
        {
            **row,
            "value": inline(row["value"]) if row["present"] else "",
            "vias_value": inline(row["vias_value"]) if row["vias_value"] is not None else "",
        }
        for row in migration_fields(payload=result.task)
    ]
    return render(
        request,
        "tasks/task_vias_fields.html",
        {
            "project": project,
            "service": service,
            "task_id": task_id,
            "task": result.task,
            "rows": rows,
        },
    )


@login_required
@require_GET
def project_migration(request: HttpRequest, project) -> HttpResponse:
    """The project's VAS and VIAS tasks side by side by name (the tasks the portal has seen)."""
    project = get_project_for_user(request.user, project)
    pairs = migration_pairs(project=project)
    return render(
        request,
        "tasks/project_migration.html",
        {
            "project": project,
            "pairs": pairs,
            "both": sum(1 for p in pairs if p["vas"] and p["vias"]),
            "vias": VIAS_SERVICE,
        },
    )
