"""Task pages: lookup, browse, detail (with the ROI canvas), history, refresh and watch.

Thin views: find the project for the user, call a service or selector, render. Every upstream or
portal error becomes a readable page with what to do next (`render_task_error`), never a 500.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tasks import selectors
from tasks.access import get_admin_project_for_user, get_project_for_user
from tasks.caching import memo
from tasks.caching.read import CacheRead, cache_read
from tasks.errors import (
    PortalError,
    error_entry,
    error_text,
    http_status,
    retry_after_seconds,
    set_retry_after,
    stored_text,
)
from tasks.models import CloudProject, Role, TrackedTask
from tasks.services.task_actions import START_FROM, STOP_FROM
from tasks.services.task_fetch import (
    IDENTIFIER,
    TaskResult,
    identifiers_valid,
    snapshot_result,
    task_cache_key,
    task_fetch,
    validate_identifiers,
)
from tasks.services.task_list import task_list_upstream, task_list_vias
from tasks.services.watch import task_watch
from tasks.vas import VIAS_SERVICE
from tasks.vas.errors import VasError
from tasks.vas.parsing import KNOWN_SERVICES, TaskView
from tasks.vas.vias import ViasTaskView
from tasks.web.forms import TaskFilterForm, TaskLookupForm, ViasTaskFilterForm
from tasks.web.task_body import body_cache_key, task_body_html
from tasks.web.task_body import inline as _inline
from tasks.web.views import fleet

RECENT_TASKS = 10
HISTORY_PAGE_SIZE = 20
#: A rendered history page is kept this long (its relative ages age; the page script updates them).
HISTORY_TTL = 60


# --------------------------------------------------------------------------- errors


def _error_actions(
    request: HttpRequest,
    project: CloudProject,
    service: str | None,
    task_id: str | None,
    links: tuple[str, ...],
) -> list[dict[str, str]]:
    """The links of an error page: the catalogue entry's that apply, then "look up another"."""
    pid = project.public_id
    # Never build links out of malformed names.
    ids_ok = all(
        name is None or (isinstance(name, str) and IDENTIFIER.match(name))
        for name in (service, task_id)
    )
    is_admin = project.role == Role.ADMIN
    actions: list[dict[str, str]] = []
    for action in links:
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
                    "url": reverse("task_browse", kwargs={"project": pid, "service": service}),
                    "label": _("List the VIAS tasks")
                    if service == VIAS_SERVICE
                    else _("List the tasks of %(service)s") % {"service": service},
                }
            )
        elif action == "retry" and ids_ok:
            # A failed POST (refresh, watch) is retried from the task's page, not by a GET of it.
            retry = request.get_full_path()
            if request.method != "GET" and service and task_id:
                retry = reverse(
                    "task_detail", kwargs={"project": pid, "service": service, "task_id": task_id}
                )
            actions.append({"url": retry, "label": _("Try again")})
        elif action in ("cached", "open") and service and task_id and ids_ok:
            actions.append(
                {
                    "url": reverse(
                        "task_detail",
                        kwargs={"project": pid, "service": service, "task_id": task_id},
                    ),
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
    exc: PortalError | VasError,
    *,
    service: str | None = None,
    task_id: str | None = None,
) -> HttpResponse:
    """A readable page for a VasError / PortalError: the catalogue's title, message, next step
    and links, with the code's HTTP status (never a 500: that would read as the portal's bug)."""
    entry = error_entry(exc.code)
    status = http_status(entry.code, exc.reason)
    if status == 500:
        status = 502
    upstream = exc.upstream_dict() if isinstance(exc, VasError) else None
    retry_after = exc.retry_after
    response = render(
        request,
        "tasks/task_error.html",
        {
            "project": project,
            "service": service,
            "task_id": task_id,
            "code": entry.code,
            "message": error_text(exc, with_retry=False),
            "advice": {"title": _(entry.title), "next_step": _(entry.next_step)},
            "upstream": upstream,
            "retry_after": retry_after_seconds(retry_after) if retry_after else None,
            "actions": _error_actions(request, project, service, task_id, entry.links),
            "is_admin": project.role == Role.ADMIN,
        },
        status=status,
    )
    set_retry_after(response, retry_after)
    return response


# --------------------------------------------------------------------------- project page panel


def _known_services(project: CloudProject) -> list[str]:
    # "vias" opens the task under VIAS (the successor service) instead of a VAS service.
    services = [project.default_service, *KNOWN_SERVICES, VIAS_SERVICE]
    return list(dict.fromkeys(s for s in services if s))


def project_task_panel(request: HttpRequest, project) -> dict:
    """Context of the project page's task panel: the lookup form and recently fetched tasks."""
    return {
        "lookup_form": TaskLookupForm(initial={"service": project.default_service}),
        "known_services": _known_services(project),
        "recent_tasks": selectors.tracked_task_list(project=project)[:RECENT_TASKS],
        "vias_default_endpoint": project.vias_endpoint_or_default,
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
    if service == VIAS_SERVICE:
        return _vias_browse(request, project)
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
            actor=request.user,
        )
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service)
    count = listing["count"] if isinstance(listing["count"], int) else 0
    pages = max(1, math.ceil(count / size))
    watched = set(
        selectors.tracked_task_list(project=project, service=service, watched=True).values_list(
            "task_id", flat=True
        )
    )
    rows = []
    for item in listing["tasks"]:
        task_id = item.get("id")
        linkable = identifiers_valid(service=service, task_id=task_id)
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


def _vias_browse(request: HttpRequest, project: CloudProject) -> HttpResponse:
    """The VIAS list: numbered pages without a total (VIAS' `count` is the page's), filters
    state, name, camera and algorithm."""
    form = ViasTaskFilterForm(request.GET)
    values = form.values()
    size = ViasTaskFilterForm.PAGE_SIZE
    try:
        listing = task_list_vias(project=project, page_size=size, actor=request.user, **values)
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=VIAS_SERVICE)
    watched = set(
        selectors.tracked_task_list(
            project=project, service=VIAS_SERVICE, watched=True
        ).values_list("task_id", flat=True)
    )
    rows = []
    for item in listing["tasks"]:
        task_id = item.get("id")
        linkable = isinstance(task_id, str)
        try:
            validate_identifiers(service=VIAS_SERVICE, task_id=task_id)
        except PortalError:
            linkable = False
        rows.append({**item, "linkable": linkable, "watched": linkable and task_id in watched})
    query = {k: v for k, v in values.items() if v and k != "page"}
    first = (values["page"] - 1) * size + 1
    return render(
        request,
        "tasks/vias_task_list.html",
        {
            "project": project,
            "service": VIAS_SERVICE,
            "form": form,
            "rows": rows,
            "page": values["page"],
            "has_more": listing["meta"]["has_more"],
            "first": first if rows else 0,
            "last": first + len(rows) - 1,
            "query": query,
            "meta": listing["meta"],
        },
    )


# --------------------------------------------------------------------------- detail


def _watched(
    project: CloudProject, service: str, task_id: str, result: TaskResult, cached: CacheRead | None
) -> bool:
    if result.tracked is not None:
        return result.tracked.watched
    watched, epochs = memo.watched_get(project.public_id, service, task_id, cached=cached)
    if watched is None:
        watched = bool(
            TrackedTask.objects.filter(project=project, service=service, task_id=task_id)
            .values_list("watched", flat=True)
            .first()
        )
        memo.watched_put(epochs, project.public_id, service, task_id, watched)
    return watched


def _monitor_state(project: CloudProject, service: str, task_id: str) -> dict[str, Any]:
    """A watched task's mute and its service's last poll, for the task page."""
    from tasks.models import PollSchedule
    from tasks.web.forms import MuteForm

    muted_until = (
        TrackedTask.objects.filter(project=project, service=service, task_id=task_id)
        .values_list("muted_until", flat=True)
        .first()
    )
    schedule = (
        PollSchedule.objects.filter(project=project, service=service)
        .values("last_poll_at", "last_success_at", "next_poll_at", "failing_code")
        .first()
    )
    muted = muted_until is not None and muted_until > timezone.now()
    return {
        "muted_until": muted_until if muted else None,
        "schedule": schedule,
        "mute_form": MuteForm(),
    }


def _task_urls(project: CloudProject, service: str, task_id: str) -> dict[str, str]:
    task = {"project": project.public_id, "service": service, "task_id": task_id}
    return {
        "project": reverse("project_detail", kwargs={"project": project.public_id}),
        "browse": reverse("task_browse", kwargs={"project": project.public_id, "service": service}),
        "detail": reverse("task_detail", kwargs=task),
        "history": reverse("task_history", kwargs=task),
        "watch": reverse("task_watch", kwargs=task),
        "mute": reverse("task_mute", kwargs=task),
        "start": reverse("task_start", kwargs=task),
        "stop": reverse("task_stop", kwargs=task),
        "frame": reverse("api-task-frame", kwargs=task),
        "roi_edit": reverse("task_roi_edit", kwargs=task),
    }


def _detail_cache_read(request: HttpRequest, public_id, service: str, task_id: str) -> CacheRead:
    """The detail page's one cache read, made once the session (its first round trip) has said
    who the user is: the user's and the project's epochs, the task, its body in this language and
    whether it is watched. `request.user` is settled from it."""
    keys = memo.session_user_epoch_keys(request)
    if keys and identifiers_valid(service=service, task_id=task_id):
        user_pk = request.session[SESSION_KEY]
        task_key = task_cache_key(public_id, service, task_id)
        keys += [
            *memo.project_epoch_keys(user_pk, public_id),
            task_key,
            body_cache_key(task_key, translation.get_language()),
            memo.watched_epoch_key(public_id, service, task_id),
            fleet.health_cache_key(public_id, service, task_id, translation.get_language()),
        ]
    read = cache_read(keys)
    request.user = memo.session_user(request, cached=read)
    return read


def _detail_context(
    project: CloudProject,
    service: str,
    task_id: str,
    result: TaskResult,
    *,
    snapshot=None,
    latest_snapshot_id: int | None = None,
    cached: CacheRead | None = None,
) -> dict[str, Any]:
    view = (ViasTaskView if service == VIAS_SERVICE else TaskView).from_payload(result.task)
    meta = result.reader_meta()  # a stale copy's error in the reader's words
    urls = _task_urls(project, service, task_id)
    watched = _watched(project, service, task_id, result, cached)
    return {
        "project": project,
        "service": service,
        "task_id": task_id,
        "task": view,
        "meta": meta,
        "watched": watched,
        # Only a watched task is polled and can be muted: two small queries then, none else.
        "monitor": _monitor_state(project, service, task_id) if watched else None,
        "urls": urls,
        "is_admin": project.role == Role.ADMIN,
        "body": task_body_html(
            result,
            task_key=None if snapshot else task_cache_key(project.public_id, service, task_id),
            service=service,
            task_id=task_id,
            view=view,
            frame_url=urls["frame"],
            cached=cached,
        ),
        "snapshot": snapshot,
        "is_latest": snapshot is None or snapshot.pk == latest_snapshot_id,
        "can_start": view.state in START_FROM,
        "can_stop": view.state in STOP_FROM,
    }


@require_http_methods(["GET", "POST"])
def task_detail(request: HttpRequest, project, service: str, task_id: str) -> HttpResponse:
    """GET: the task (cache, `?refresh=1`, or `?snapshot=<id>`); POST: "Refresh now"."""
    cached = None
    if request.method == "GET":
        cached = _detail_cache_read(request, project, service, task_id)
    if not request.user.is_authenticated:  # as @login_required, once the user is known
        return redirect_to_login(request.get_full_path())
    project = get_project_for_user(request.user, project, cached=cached)
    if request.method == "POST":
        return _refresh(request, project, service, task_id)
    snapshot = None
    latest_id = None
    try:
        if "snapshot" in request.GET:
            validate_identifiers(service=service, task_id=task_id)
            tracked = selectors.tracked_task_get(project=project, service=service, task_id=task_id)
            snapshot = selectors.snapshot_get(tracked=tracked, snapshot_id=request.GET["snapshot"])
            result = snapshot_result(snapshot=snapshot)
            latest_id = (
                selectors.snapshot_list(tracked=tracked).values_list("pk", flat=True).first()
            )
        else:
            result = task_fetch(
                project=project,
                service=service,
                task_id=task_id,
                refresh=request.GET.get("refresh") in ("1", "true"),
                actor=request.user,
                cached=cached,
            )
    except (VasError, PortalError) as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    context = _detail_context(
        project,
        service,
        task_id,
        result,
        snapshot=snapshot,
        latest_snapshot_id=latest_id,
        cached=cached,
    )
    context.update(fleet.detail_extras(request, project, service, task_id, result.meta, cached))
    return render(request, "tasks/task_detail.html", context)


def _refresh(request: HttpRequest, project: CloudProject, service: str, task_id: str):
    try:
        result = task_fetch(
            project=project, service=service, task_id=task_id, refresh=True, actor=request.user
        )
    except PortalError as exc:
        if exc.code != "throttled":
            return render_task_error(request, project, exc, service=service, task_id=task_id)
        messages.warning(request, error_text(exc))
    except VasError as exc:
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    else:
        if result.meta.get("source") == "stale":
            error = result.meta.get("error") or {}
            messages.warning(
                request,
                _("The upstream failed (%(message)s); showing the last copy the portal saw.")
                % {"message": stored_text(error)},
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
        tracked = selectors.tracked_task_get(project=project, service=service, task_id=task_id)
    except PortalError as exc:  # a malformed name, or a task the portal never fetched
        return render_task_error(request, project, exc, service=service, task_id=task_id)
    detail_url = reverse(
        "task_detail", kwargs={"project": project.public_id, "service": service, "task_id": task_id}
    )
    page = Paginator(selectors.snapshot_list(tracked=tracked), HISTORY_PAGE_SIZE).get_page(
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
    key = f"history:{tracked.history_version}:{page.number}:{language}"
    html = cache.get(key)
    if html is None:
        snapshots = list(page.object_list)
        changes = selectors.snapshot_page_changes(tracked=tracked, snapshots=snapshots)
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
