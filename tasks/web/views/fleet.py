"""The fleet pages: the dashboard (home), a project's "needs attention", the status badges, and
the health strip of the task detail page."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_POST

from tasks.access import get_admin_project_for_user, get_project_for_user
from tasks.caching.read import CacheRead
from tasks.models import CloudProject, Role, TrackedTask
from tasks.services import badges
from tasks.services.attention import attention_for_projects
from tasks.services.dashboard import DashboardFilters, dashboard_get
from tasks.services.health import WINDOWS, Health, Segment, task_health_windows
from tasks.vas.parsing import STATES
from tasks.web import badge_svg
from tasks.web.display import state_name

#: Width of a health strip in SVG user units (the element scales to the page).
STRIP_WIDTH = 1000
ATTENTION_PAGE_LIMIT = 500


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    filters = DashboardFilters.from_query(request.GET)
    board = dashboard_get(user=request.user, filters=filters, now=timezone.now())
    return render(
        request,
        "tasks/dashboard.html",
        {
            "board": board,
            "states": list(STATES),
            "filter_errors": [e for errors in filters.errors.values() for e in errors],
            "query": _query(filters),
        },
        status=400 if filters.errors else 200,
    )


def _query(filters: DashboardFilters) -> str:
    """The filters as a query string prefix for the pagers' links."""
    parts = []
    if filters.project:
        parts.append(f"project={filters.project}")
    if filters.state:
        parts.append(f"state={filters.state}")
    return "&".join(parts) + ("&" if parts else "")


@login_required
@require_GET
def project_attention(request: HttpRequest, project) -> HttpResponse:
    project = get_project_for_user(request.user, project)
    is_admin = project.role == Role.ADMIN
    attention = attention_for_projects(
        projects=[project],
        now=timezone.now(),
        limit=ATTENTION_PAGE_LIMIT,
        admin_pks=[project.pk] if is_admin else [],
    )
    return render(
        request,
        "tasks/project_attention.html",
        {"project": project, "attention": attention, "limit": ATTENTION_PAGE_LIMIT},
    )


@login_required
@require_POST
def badge_rotate(request: HttpRequest, project) -> HttpResponse:
    project = get_admin_project_for_user(request.user, project)
    badges.badge_key_rotate(actor=request.user, project=project)
    messages.success(request, _("New badge key: the old badge URLs no longer work."))
    return redirect("project_detail", project=project.public_id)


def badge_urls(
    request: HttpRequest, project: CloudProject, *, service: str = "", task_id: str = ""
) -> dict[str, str]:
    """Absolute badge URLs for the admin to copy (the project's, and a task's when given)."""
    base = request.build_absolute_uri(f"/badge/{project.badge_key}/")
    urls = {"project_svg": base + "project.svg", "project_json": base + "project.json"}
    if task_id:
        token = badges.task_badge_token(project=project, service=service, task_id=task_id)
        urls |= {"task_svg": f"{base}t/{token}.svg", "task_json": f"{base}t/{token}.json"}
    return urls


def _badge_response(body: str, fmt: str, state: str) -> HttpResponse:
    if fmt == "json":
        response = HttpResponse(json.dumps({"state": state}), content_type="application/json")
    else:
        response = HttpResponse(body, content_type="image/svg+xml; charset=utf-8")
        # An SVG opened as a document runs no script and loads nothing.
        response["Content-Security-Policy"] = "default-src 'none'"
    # Embedded elsewhere and polled by wall screens: always revalidated, never stored shared.
    patch_cache_control(response, no_cache=True, max_age=0)
    patch_vary_headers(response, ["Accept-Language"])
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def project_badge(request: HttpRequest, key: str, fmt: str) -> HttpResponse:
    project = badges.project_for_badge_key(key)
    if project is None:
        raise Http404
    state = badges.project_badge_state(project=project)
    body = badge_svg.project_badge_svg(state) if fmt == "svg" else ""
    return _badge_response(body, fmt, state)


@require_GET
def task_badge(request: HttpRequest, key: str, token: str, fmt: str) -> HttpResponse:
    project = badges.project_for_badge_key(key)
    found = project and badges.task_badge_resolve(project=project, token=token)
    if not found:
        raise Http404
    assert project is not None  # found implies a project
    state = badges.task_badge_state(project=project, service=found[0], task_id=found[1])
    if state is None:
        raise Http404
    body = badge_svg.task_badge_svg(state) if fmt == "svg" else ""
    return _badge_response(body, fmt, state)


# --------------------------------------------------------------------------- the health strip


#: More segments than this are drawn as this many equal slices, each in its dominant state.
STRIP_MAX_RECTS = 300


def _binned(health: Health) -> list[Segment]:
    """The segments, or for a busy window STRIP_MAX_RECTS slices, each in the state (or the
    unobserved time) that covers most of it, neighbours in the same state merged: a strip never
    draws more rectangles than a screen has room for. The numbers stay exact."""
    if len(health.segments) <= STRIP_MAX_RECTS:
        return health.segments
    width = (health.end - health.start) / STRIP_MAX_RECTS
    binned: list[Segment] = []
    segments = health.segments
    index = 0
    for n in range(STRIP_MAX_RECTS):
        start = health.start + width * n
        end = health.end if n == STRIP_MAX_RECTS - 1 else start + width
        cover: dict[str | None, float] = {}
        while index < len(segments) and segments[index].end <= start:
            index += 1
        k = index
        while k < len(segments) and segments[k].start < end:
            overlap = (min(end, segments[k].end) - max(start, segments[k].start)).total_seconds()
            cover[segments[k].state] = cover.get(segments[k].state, 0) + overlap
            k += 1
        state = max(cover, key=lambda s: cover[s]) if cover else None
        if binned and binned[-1].state == state:
            binned[-1] = Segment(state, binned[-1].start, end)
        else:
            binned.append(Segment(state, start, end))
    return binned


def _strip(health: Health) -> list[dict[str, Any]]:
    """The strip's rectangles in SVG units: x and width along STRIP_WIDTH."""
    total = (health.end - health.start).total_seconds() or 1
    rects = []
    for segment in _binned(health):
        # Both edges rounded the same way, so the rectangles tile the strip without gaps.
        x = round((segment.start - health.start).total_seconds() / total * STRIP_WIDTH, 3)
        right = round((segment.end - health.start).total_seconds() / total * STRIP_WIDTH, 3)
        width = right - x
        family = STATES.get(segment.state or "", ("neutral",))[0]
        if segment.state is None:
            family = "unobserved"
        rects.append(
            {
                "x": f"{x:.3f}",
                "width": f"{width:.3f}",
                "state": segment.state or "",
                "label": state_name(segment.state) if segment.state else "",
                "family": "neutral" if family == "unknown" else family,
                "from": segment.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "to": segment.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds": round(segment.seconds),
            }
        )
    return rects


def health_context(project: CloudProject, service: str, task_id: str) -> dict[str, Any] | None:
    """The detail page's health section: every window from one read of the widest."""
    tracked = (
        TrackedTask.objects.filter(project=project, service=service, task_id=task_id)
        .only("pk", "project_id", "service", "task_id")
        .first()
    )
    if tracked is None:
        return None
    tracked.project = project
    windows = task_health_windows(task=tracked, now=timezone.now(), windows=WINDOWS)
    return {
        "tracked": tracked,
        # The strip script's words, in the page's language.
        "words": {
            "unobserved": _("not observed"),
            "to": _("to"),
            "lasting": _("lasting"),
            "d": pgettext("duration unit", "d"),
            "h": pgettext("duration unit", "h"),
            "m": pgettext("duration unit", "min"),
            "s": pgettext("duration unit", "s"),
        },
        "windows": [
            {
                "days": days,
                "health": health,
                "rects": _strip(health),
                "states": sorted(health.state_seconds.items(), key=lambda kv: -kv[1]),
                "up_percent": None if health.up_ratio is None else round(health.up_ratio * 100, 1),
            }
            for days, health in windows.items()
        ],
    }


#: A rendered health section is kept this long: the windows slide by at most this much before
#: a new version or sighting (part of the key) renders it again.
HEALTH_TTL = 60


def health_cache_key(public_id, service: str, task_id: str, language: str) -> str:
    """Where a task's rendered health section is kept: known from the URL alone, so the detail
    page reads it in its one cache read (tasks.web.views.task_pages._detail_cache_read)."""
    return f"health:{public_id}:{service}:{task_id}:{language}"


def health_section_html(
    project: CloudProject,
    service: str,
    task_id: str,
    meta: dict[str, Any],
    cached: CacheRead | None = None,
) -> SafeString:
    """The detail page's health section, rendered once per version, sighting, language and
    HEALTH_TTL: a warm detail page stays free of SQL and of extra cache round trips ("" for a
    task the portal never stored)."""
    key = health_cache_key(project.public_id, service, task_id, translation.get_language())
    # The version and sighting the section was drawn for: a new one draws it again.
    stamp = f"{meta.get('snapshot_id')}:{meta.get('fetched_at')}:{meta.get('source')}"
    entry = cached.get(key) if cached is not None and key in cached.asked else cache.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return mark_safe(entry["html"])  # noqa: S308 - rendered below by our own template
    health = health_context(project, service, task_id)
    html = render_to_string("tasks/_health.html", {"health": health}) if health else ""
    cache.set(key, {"stamp": stamp, "html": html}, HEALTH_TTL)
    return mark_safe(html)  # noqa: S308 - our own template rendered it, escaping every value


def detail_extras(
    request: HttpRequest,
    project: CloudProject,
    service: str,
    task_id: str,
    meta: dict[str, Any],
    cached: CacheRead | None = None,
) -> dict[str, Any]:
    """What the fleet adds to a task's detail page: its health, and its badge URLs for admins."""
    html = health_section_html(project, service, task_id, meta, cached)
    extras: dict[str, Any] = {"health_html": html}
    if extras["health_html"] and project.role == Role.ADMIN:
        extras["badge_urls"] = badge_urls(request, project, service=service, task_id=task_id)
    return extras


PROJECT_PAGE_FINDINGS = 5


def project_extras(request: HttpRequest, project: CloudProject) -> dict[str, Any]:
    """What the fleet adds to the project page: the first findings, and the badges for admins."""
    is_admin = project.role == Role.ADMIN
    attention = attention_for_projects(
        projects=[project],
        now=timezone.now(),
        limit=PROJECT_PAGE_FINDINGS,
        admin_pks=[project.pk] if is_admin else [],
    )
    extras: dict[str, Any] = {"attention": attention}
    if is_admin:
        extras["badge_urls"] = badge_urls(request, project)
    return extras
