"""Task pages: lookup, browse, detail (with the ROI canvas), history, refresh and watch.

Thin views: find the project for the user, call a service or selector, render. Every upstream or
portal error becomes a readable page with what to do next (`render_task_error`), never a 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tasks import i18n, selectors
from tasks.access import get_admin_project_for_user, get_project_for_user
from tasks.caching import memo
from tasks.errors import PortalError
from tasks.models import CloudProject, Role, TrackedTask
from tasks.services.task_fetch import (
    TaskResult,
    task_cache_key,
    task_cache_key_guess,
    task_fetch,
    validate_identifiers,
)
from tasks.services.task_list import task_list_upstream
from tasks.services.watch import task_watch
from tasks.vas.errors import VasError
from tasks.vas.parsing import KNOWN_SERVICES, TaskView
from tasks.web.forms import TaskFilterForm, TaskLookupForm
from tasks.web.task_body import body_cache_key, task_body_html
from tasks.web.task_body import inline as _inline
from tasks.web.views import fleet

RECENT_TASKS = 10
HISTORY_PAGE_SIZE = 20
#: A rendered history page is kept this long (its relative ages age; the page script updates them).
HISTORY_TTL = 60


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Advice:
    title: Any
    next_step: Any
    actions: tuple[str, ...] = ()


#: Contract code -> a title, what to do next, and which links help (see `_error_actions`).
ERROR_ADVICE: dict[str, Advice] = {
    "invalid_task_id": Advice(
        gettext_lazy("That is not a task id"),
        gettext_lazy(
            "Task ids are 32 hexadecimal characters (or “task” and 8 more). Copy it again from "
            "the console, or find the task by name in the service's task list."
        ),
        ("lookup",),
    ),
    "invalid_service": Advice(
        gettext_lazy("That is not a service name"),
        gettext_lazy(
            "Service names look like c-face-edge. Pick one of the suggestions in the lookup form."
        ),
        ("lookup",),
    ),
    "task_not_found": Advice(
        gettext_lazy("Task not found"),
        gettext_lazy(
            "The upstream has no task with this id under this service. Check the service (tasks "
            "are listed per service) or find the task by name in the list."
        ),
        ("browse", "lookup"),
    ),
    "upstream_bad_request": Advice(
        gettext_lazy("The upstream rejected the request"),
        gettext_lazy(
            "Check the project's upstream project id and the service name; an admin can fix them "
            "by editing the project."
        ),
        ("edit", "lookup"),
    ),
    "upstream_auth_failed": Advice(
        gettext_lazy("Credentials rejected"),
        gettext_lazy(
            "The upstream refused the project's credentials — edit the project and replace them "
            "(or ask a project admin to), then test the connection."
        ),
        ("edit", "check"),
    ),
    "upstream_forbidden": Advice(
        gettext_lazy("Not allowed by the cloud account"),
        gettext_lazy(
            "The credentials work but may not use VAS (no subscription or an IAM policy). Ask the "
            "cloud account owner to grant VAS access to this user."
        ),
        ("retry",),
    ),
    "upstream_unavailable": Advice(
        gettext_lazy("The upstream is unavailable"),
        gettext_lazy("This is usually temporary. Try again in a moment."),
        ("retry",),
    ),
    "upstream_timeout": Advice(
        gettext_lazy("The upstream did not answer in time"),
        gettext_lazy("Try again in a moment; if it keeps happening, test the connection."),
        ("retry", "check"),
    ),
    "upstream_invalid_response": Advice(
        gettext_lazy("The upstream sent an unusable answer"),
        gettext_lazy(
            "Check that the project's VAS endpoint is right (edit the project); if it is, try "
            "again later."
        ),
        ("edit", "retry"),
    ),
    "endpoint_not_allowed": Advice(
        gettext_lazy("Endpoint not allowed"),
        gettext_lazy(
            "The project's endpoint points at an address the portal may not call. Edit the "
            "project and use the region's VAS endpoint."
        ),
        ("edit",),
    ),
    "credentials_unavailable": Advice(
        gettext_lazy("Credentials unavailable"),
        gettext_lazy(
            "The portal cannot read this project's stored credentials (missing, or encrypted with "
            "a retired key). Edit the project and enter them again."
        ),
        ("edit",),
    ),
    "throttled": Advice(
        gettext_lazy("Refreshed too often"),
        gettext_lazy("Wait a moment before asking for fresh data again; the cached copy is fine."),
        ("cached",),
    ),
    "invalid_state": Advice(
        gettext_lazy("Unknown state filter"),
        gettext_lazy("Pick a state from the list."),
        ("browse",),
    ),
    "invalid_page": Advice(
        gettext_lazy("No such page"),
        gettext_lazy("Go back to the first page of the list."),
        ("browse",),
    ),
    "not_fetched": Advice(
        gettext_lazy("No history yet"),
        gettext_lazy(
            "The portal keeps a version each time it sees the task change. Open the task first."
        ),
        ("open",),
    ),
    "not_found": Advice(
        gettext_lazy("Not found"),
        gettext_lazy("It does not exist, or it belongs to a project you are not a member of."),
        ("lookup",),
    ),
}
_DEFAULT_ADVICE = Advice(
    gettext_lazy("Something went wrong talking to the upstream"),
    gettext_lazy("Try again in a moment."),
    ("retry",),
)


def error_advice(code: str) -> Advice:
    """What to tell the user, and which links to offer, for a contract error code."""
    return ERROR_ADVICE.get(code, _DEFAULT_ADVICE)


def _error_actions(
    request: HttpRequest, project: CloudProject, service: str | None, task_id: str | None, advice
) -> list[dict[str, str]]:
    pid = project.public_id
    ids_ok = True
    try:
        validate_identifiers(service=service or "x", task_id=task_id or "x")
    except PortalError:
        ids_ok = False  # never build links out of malformed names
    is_admin = project.role == Role.ADMIN
    actions: list[dict[str, str]] = []
    for action in advice.actions:
        if action == "edit" and is_admin:
            actions.append({"url": reverse("project_edit", args=[pid]), "label": _("Edit project")})
        elif action == "check":
            actions.append(
                {
                    "url": reverse("project_detail", args=[pid]),
                    "label": _("Test the connection on the project page"),
                }
            )
        elif action == "browse" and service and ids_ok:
            actions.append(
                {
                    "url": reverse("task_browse", args=[pid, service]),
                    "label": _("List the tasks of %(service)s") % {"service": service},
                }
            )
        elif action == "retry" and ids_ok:
            # A failed POST (refresh, watch) is retried from the task's page, not by a GET of it.
            retry = request.get_full_path()
            if request.method != "GET" and service and task_id:
                retry = reverse("task_detail", args=[pid, service, task_id])
            actions.append({"url": retry, "label": _("Try again")})
        elif action in ("cached", "open") and service and task_id and ids_ok:
            actions.append(
                {
                    "url": reverse("task_detail", args=[pid, service, task_id]),
                    "label": _("Show the cached copy")
                    if action == "cached"
                    else _("Open the task"),
                }
            )
    actions.append(
        {"url": reverse("project_detail", args=[pid]), "label": _("Look up another task")}
    )
    return actions


def render_task_error(
    request: HttpRequest,
    project: CloudProject,
    exc: Exception,
    *,
    service: str | None = None,
    task_id: str | None = None,
) -> HttpResponse:
    """A readable page for a VasError / PortalError, with the contract's HTTP status."""
    code = getattr(exc, "code", "error")
    status = getattr(exc, "http_status", 502)
    if not isinstance(status, int) or not 400 <= status <= 599 or status == 500:
        status = 502
    advice = error_advice(code)
    upstream = exc.upstream_dict() if isinstance(exc, VasError) else None
    retry_after = getattr(exc, "retry_after", None)
    response = render(
        request,
        "tasks/task_error.html",
        {
            "project": project,
            "service": service,
            "task_id": task_id,
            "code": code,
            "message": i18n.error_message(exc, with_retry=False),
            "advice": advice,
            "upstream": upstream,
            "retry_after": math.ceil(retry_after) if retry_after else None,
            "actions": _error_actions(request, project, service, task_id, advice),
            "is_admin": project.role == Role.ADMIN,
        },
        status=status,
    )
    if retry_after:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


# --------------------------------------------------------------------------- project page panel


def _known_services(project: CloudProject) -> list[str]:
    services = [project.default_service, *KNOWN_SERVICES]
    return list(dict.fromkeys(s for s in services if s))


def project_task_panel(request: HttpRequest, project) -> dict:
    """Context of the project page's task panel: the lookup form and recently fetched tasks."""
    return {
        "lookup_form": TaskLookupForm(initial={"service": project.default_service}),
        "known_services": _known_services(project),
        "recent_tasks": selectors.tracked_tasks_for_project(project)[:RECENT_TASKS],
    }


@login_required
@require_GET
def task_lookup(request: HttpRequest, project) -> HttpResponse:
    """The lookup form's target: valid input goes to the detail page, else the form again."""
    project = get_project_for_user(request.user, project)
    form = TaskLookupForm(request.GET)
    if form.is_valid():
        return redirect(
            "task_detail",
            project=project.public_id,
            service=form.cleaned_data["service"],
            task_id=form.cleaned_data["task_id"],
        )
    return render(
        request,
        "tasks/task_lookup.html",
        {"project": project, "lookup_form": form, "known_services": _known_services(project)},
        status=400,
    )


# --------------------------------------------------------------------------- browse


@login_required
@require_GET
def task_browse(request: HttpRequest, project, service: str) -> HttpResponse:
    """The upstream's task list for one service, filterable by state and name, paginated."""
    project = get_project_for_user(request.user, project)
    form = TaskFilterForm(request.GET)
    values = form.values()
    size = TaskFilterForm.PAGE_SIZE
    offset = (values["page"] - 1) * size
    try:
        listing = task_list_upstream(
            project=project,
            service=service,
            state=values["state"],
            name=values["name"],
            offset=offset,
            limit=size,
        )
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service)
    count = listing["count"] if isinstance(listing["count"], int) else 0
    pages = max(1, math.ceil(count / size))
    watched = set(
        selectors.tracked_tasks_for_project(project, service=service, watched=True).values_list(
            "task_id", flat=True
        )
    )
    rows = []
    for item in listing["tasks"]:
        task_id = item.get("id")
        linkable = isinstance(task_id, str)
        try:
            validate_identifiers(service=service, task_id=task_id)
        except PortalError:
            linkable = False
        # An odd upstream id (a list, an object) is unhashable: only a valid id can be watched.
        rows.append({**item, "linkable": linkable, "watched": linkable and task_id in watched})
    query = {k: v for k, v in (("state", values["state"]), ("name", values["name"])) if v}
    return render(
        request,
        "tasks/task_list.html",
        {
            "project": project,
            "service": service,
            "form": form,
            "rows": rows,
            "count": count,
            "page": values["page"],
            "pages": pages,
            "first": offset + 1 if rows else 0,
            "last": offset + len(rows),
            "query": query,
            "meta": listing["meta"],
        },
    )


# --------------------------------------------------------------------------- detail


def _tracked(project: CloudProject, service: str, task_id: str):
    try:
        return selectors.get_tracked_task(project, service, task_id)
    except Http404:
        return None


def _watched(project: CloudProject, service: str, task_id: str, result: TaskResult) -> bool:
    if result.tracked is not None:
        return result.tracked.watched
    watched, epochs = memo.watched_get(project.pk, service, task_id)
    if watched is None:
        watched = bool(
            TrackedTask.objects.filter(project=project, service=service, task_id=task_id)
            .values_list("watched", flat=True)
            .first()
        )
        memo.watched_put(epochs, project.pk, service, task_id, watched)
    return watched


def _task_urls(project: CloudProject, service: str, task_id: str) -> dict[str, str]:
    """The page's links (each reversed once, then remembered: reversing costs ~20 µs a link)."""
    return _reversed_task_urls(
        get_script_prefix(), get_urlconf(), project.public_id, service, task_id
    )


@lru_cache(maxsize=4096)
def _reversed_task_urls(
    _prefix: str, urlconf: str | None, public_id, service: str, task_id: str
) -> dict[str, str]:
    task = {"project": public_id, "service": service, "task_id": task_id}
    return {
        "project": reverse("project_detail", urlconf, kwargs={"project": public_id}),
        "browse": reverse(
            "task_browse", urlconf, kwargs={"project": public_id, "service": service}
        ),
        "detail": reverse("task_detail", urlconf, kwargs=task),
        "history": reverse("task_history", urlconf, kwargs=task),
        "watch": reverse("task_watch", urlconf, kwargs=task),
    }


def _detail_readahead(request, kwargs: dict, session_user_pk) -> tuple[list, list]:
    """The cache keys a warm detail page reads beyond the session's (tasks.caching.readahead)."""
    if session_user_pk is None:
        return [], []
    service, task_id = kwargs["service"], kwargs["task_id"]
    keys, project = memo.project_guess(session_user_pk, kwargs["project"])
    task_key = project and task_cache_key_guess(project, service, task_id)
    if task_key:
        language = translation.get_language_from_request(request)  # LocaleMiddleware's answer
        keys += [
            task_key,
            body_cache_key(task_key, language),
            memo.watched_epoch_key(project.pk, service, task_id),
        ]
    return keys, []


def _detail_context(
    project: CloudProject,
    service: str,
    task_id: str,
    result: TaskResult,
    *,
    snapshot=None,
    latest_snapshot_id: int | None = None,
) -> dict[str, Any]:
    view = TaskView.from_payload(result.task)
    meta = result.meta
    if isinstance(meta.get("error"), dict):
        meta = {
            **meta,
            "error": {**meta["error"], "message": i18n.error_dict_message(meta["error"])},
        }
    return {
        "project": project,
        "service": service,
        "task_id": task_id,
        "task": view,
        "meta": meta,
        "watched": _watched(project, service, task_id, result),
        "urls": _task_urls(project, service, task_id),
        "is_admin": project.role == Role.ADMIN,
        "body": task_body_html(
            result,
            task_key=None if snapshot else task_cache_key(project, service, task_id),
            service=service,
            task_id=task_id,
            view=view,
        ),
        "snapshot": snapshot,
        "is_latest": snapshot is None or snapshot.pk == latest_snapshot_id,
    }


@login_required
@require_http_methods(["GET", "POST"])
def task_detail(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """GET: the task (cache, `?refresh=1`, or `?snapshot=<id>`); POST: "Refresh now"."""
    project = get_project_for_user(request.user, project)
    if request.method == "POST":
        return _refresh(request, project, service, task_id)
    snapshot = None
    latest_id = None
    try:
        if "snapshot" in request.GET:
            validate_identifiers(service=service, task_id=task_id)
            tracked = selectors.get_tracked_task(project, service, task_id)
            snapshot = selectors.get_snapshot(tracked, request.GET["snapshot"])
            result = selectors.snapshot_result(snapshot)
            latest_id = selectors.snapshots_for_task(tracked).values_list("pk", flat=True).first()
        else:
            result = task_fetch(
                project=project,
                service=service,
                task_id=task_id,
                refresh=request.GET.get("refresh") in ("1", "true"),
                actor=request.user,
            )
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    context = _detail_context(
        project, service, task_id, result, snapshot=snapshot, latest_snapshot_id=latest_id
    )
    context.update(fleet.detail_extras(request, project, service, task_id, result.meta))
    return render(request, "tasks/task_detail.html", context)


task_detail.readahead = _detail_readahead


def _refresh(request: HttpRequest, project: CloudProject, service: str, task_id: str):
    try:
        result = task_fetch(
            project=project, service=service, task_id=task_id, refresh=True, actor=request.user
        )
    except PortalError as exc:
        if exc.code != "throttled":
            return render_task_error(request, project, exc, service=service, task_id=task_id)
        messages.warning(request, i18n.error_message(exc))
    except VasError as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    else:
        if result.meta.get("source") == "stale":
            error = result.meta.get("error") or {}
            messages.warning(
                request,
                _("The upstream failed (%(message)s); showing the last copy the portal saw.")
                % {"message": i18n.error_dict_message(error)},
            )
        else:
            messages.success(request, _("Fetched fresh from the upstream."))
    return redirect("task_detail", project=project.public_id, service=service, task_id=task_id)


# --------------------------------------------------------------------------- watch, history


@login_required
@require_POST
def task_watch_toggle(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """Marks or unmarks the task for `poll_tasks` (project admins)."""
    project = get_admin_project_for_user(request.user, project)
    watched = request.POST.get("watched") == "1"
    try:
        task_watch(
            actor=request.user,
            project=project,
            service=service,
            task_id=task_id,
            watched=watched,
        )
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    if watched:
        messages.success(request, _("Watching this task: poll_tasks will refresh it."))
    else:
        messages.success(request, _("No longer watching this task."))
    return redirect("task_detail", project=project.public_id, service=service, task_id=task_id)


@login_required
@require_GET
def task_history(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """The task's stored versions, newest first, each with what changed from the one before."""
    project = get_project_for_user(request.user, project)
    try:
        validate_identifiers(service=service, task_id=task_id)
    except PortalError as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    tracked = _tracked(project, service, task_id)
    if tracked is None:
        error = PortalError(
            _(
                "The portal has not fetched this task yet, so it has no history. "
                "Open the task first."
            ),
            code="not_fetched",
            http_status=404,
        )
        return render_task_error(request, project, error, service=service, task_id=task_id)
    detail_url = reverse(
        "task_detail", kwargs={"project": project.public_id, "service": service, "task_id": task_id}
    )
    page = Paginator(selectors.snapshots_for_task(tracked), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )  # no query yet: the count is stored and the page's rows load when first iterated
    return render(
        request,
        "tasks/task_history.html",
        {
            "project": project,
            "service": service,
            "task_id": task_id,
            "tracked": tracked,
            "timeline": _history_timeline(tracked, page, detail_url),
        },
    )


def _history_timeline(tracked, page, detail_url: str) -> SafeString:
    """One page of the history, rendered once per page, language and state of the history: the
    key changes with every new version, re-sighting (`last_fetched`) and prune (the count)."""
    language = translation.get_language()
    key = (
        f"history:{tracked.pk}:{tracked.snapshot_count}:{tracked.last_fetched.timestamp()}:"
        f"{page.number}:{language}"
    )
    html = cache.get(key)
    if html is None:
        snapshots = list(page.object_list)
        changes = selectors.changes_for_snapshots(tracked, snapshots)
        entries = [
            {
                "snapshot": snapshot,
                # Newest first: the latest version is the first entry of the first page.
                "is_latest": page.number == 1 and index == 0,
                "changes": [
                    {
                        "path": change["path"],
                        "before": _inline(change["before"]),
                        "after": _inline(change["after"]),
                    }
                    for change in changes.get(snapshot.pk, [])
                ],
            }
            for index, snapshot in enumerate(snapshots)
        ]
        html = render_to_string(
            "tasks/_history_timeline.html",
            {"entries": entries, "page": page, "detail_url": detail_url, "LANGUAGE_CODE": language},
        )
        cache.set(key, html, HISTORY_TTL)
    return mark_safe(html)  # noqa: S308 - our own template rendered it, escaping every value
