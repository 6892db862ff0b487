"""The upstream's own task list for a service (or VIAS), proxied and cached briefly."""

import hashlib
import json
import time
from typing import Any

from django.core.cache import cache

from tasks.caching.ratelimit import upstream_budget_take
from tasks.errors import PortalError
from tasks.models import CloudProject
from tasks.services.task_fetch import iso_utc, validate_service
from tasks.upstream import client_for, vias_client_for
from tasks.vas import VIAS_SERVICE
from tasks.vas.parsing import STATES
from tasks.vas.vias import FIRST_PAGE, MIN_PAGE_SIZE, VIAS_STATES

#: The list changes more often than one task matters: cache it for at most this long.
LIST_CACHE_SECONDS = 15
MAX_LIMIT = 100
LIST_FIELDS = ("id", "name", "state", "service_version", "created_at", "updated_at")


def task_list_upstream(
    *,
    project: CloudProject,
    service: str,
    state: str | None = None,
    name: str | None = None,
    offset: int = 0,
    limit: int = 20,
    actor: Any = None,
) -> dict[str, Any]:
    """`{"count", "tasks": [{id, name, state, service_version, created_at, updated_at}], "meta"}`.

    `count` is the upstream's total of matches, so callers can page with offset/limit. A miss
    spends one call of `actor`'s and the project's upstream budget.
    """
    validate_service(service)
    if state and state not in STATES:
        raise PortalError(
            "invalid_state", params={"state": state[:40], "states": ", ".join(STATES)}
        )
    if not 0 <= offset <= 100_000 or not 1 <= limit <= MAX_LIMIT:
        raise PortalError("invalid_page", params={"max": MAX_LIMIT})
    name = (name or "").strip()[:100] or None
    query = {"state": state, "name": name, "offset": offset, "limit": limit}
    digest = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:24]
    key = f"task-list:{project.public_id}:{project.credentials_version}:{service}:{digest}"
    ttl = min(LIST_CACHE_SECONDS, project.cache_ttl)
    now = time.time()
    if ttl > 0:
        cached = cache.get(key)
        if cached is not None:
            return _answer(cached, "cache", now)

    upstream_budget_take(project=project, user=actor)  # a miss reaches the upstream
    page = client_for(project).list_tasks(
        service, offset=offset, limit=limit, state=state, name_like=name
    )
    entry = {
        "count": page.count,
        "tasks": [
            {field: task.get(field) for field in LIST_FIELDS}
            for task in page.tasks
            if isinstance(task, dict)
        ],
        "fetched_at": time.time(),
        "request_id": page.request_id,
    }
    if ttl > 0:
        cache.set(key, entry, timeout=ttl)
    return _answer(entry, "upstream", time.time())


def _answer(entry: dict[str, Any], source: str, now: float) -> dict[str, Any]:
    return {
        "count": entry["count"],
        "tasks": entry["tasks"],
        "meta": {
            "source": source,
            "fetched_at": iso_utc(entry["fetched_at"]),
            "age_seconds": max(0, int(now - entry["fetched_at"])),
            "upstream_request_id": entry["request_id"],
        },
    }


# --------------------------------------------------------------------------- VIAS

#: What a VIAS list row shows: the list's own fields (TaskInfo), not whole documents.
VIAS_LIST_FIELDS = (
    "id",
    "name",
    "state",
    "type",
    "video_source_name",
    "title",
    "algorithm_publish_id",
    "service_id",
    "created_at",
)
VIAS_MAX_PAGE_SIZE = 100


def task_list_vias(
    *,
    project: CloudProject,
    state: str | None = None,
    name: str | None = None,
    camera: str | None = None,
    algorithm: str | None = None,
    page: int = FIRST_PAGE,
    page_size: int = 20,
    actor: Any = None,
) -> dict[str, Any]:
    """The VIAS task list, one page: `{"count", "tasks", "meta"}` where `count` is the number of
    tasks on this page (VIAS gives no total) and `meta.has_more` says whether a page follows.

    Filters: `state` (task_state, VIAS states), `name` (task_name), `camera` (camera_name),
    `algorithm` (title, the algorithm's name)."""
    if state and state not in VIAS_STATES:
        raise PortalError(
            "invalid_state", params={"state": state[:40], "states": ", ".join(VIAS_STATES)}
        )
    if not FIRST_PAGE <= page <= 100_000 or not MIN_PAGE_SIZE <= page_size <= VIAS_MAX_PAGE_SIZE:
        raise PortalError(
            "invalid_page",
            reason="vias",
            params={"first": FIRST_PAGE, "min": MIN_PAGE_SIZE, "max": VIAS_MAX_PAGE_SIZE},
        )
    filters = {
        "task_state": state,
        "task_name": (name or "").strip()[:100] or None,
        "camera_name": (camera or "").strip()[:100] or None,
        "title": (algorithm or "").strip()[:64] or None,
    }
    query = {**filters, "page": page, "page_size": page_size}
    digest = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:24]
    key = f"task-list:{project.pk}:{project.credentials_version}:{VIAS_SERVICE}:{digest}"
    ttl = min(LIST_CACHE_SECONDS, project.cache_ttl)
    now = time.time()
    if ttl > 0:
        cached = cache.get(key)
        if cached is not None:
            return _vias_answer(cached, "cache", now)
    upstream_budget_take(project=project, user=actor)  # a miss reaches the upstream
    listing = vias_client_for(project).list_tasks(page=page, page_size=page_size, **filters)
    entry = {
        "tasks": [{field: task.get(field) for field in VIAS_LIST_FIELDS} for task in listing.tasks],
        "page": page,
        "page_size": page_size,
        "has_more": not listing.is_last,
        "fetched_at": time.time(),
        "request_id": listing.request_id,
    }
    if ttl > 0:
        cache.set(key, entry, timeout=ttl)
    return _vias_answer(entry, "upstream", time.time())


def _vias_answer(entry: dict[str, Any], source: str, now: float) -> dict[str, Any]:
    return {
        "count": len(entry["tasks"]),
        "tasks": entry["tasks"],
        "meta": {
            "source": source,
            "fetched_at": iso_utc(entry["fetched_at"]),
            "age_seconds": max(0, int(now - entry["fetched_at"])),
            "upstream_request_id": entry["request_id"],
            "page": entry["page"],
            "page_size": entry["page_size"],
            "has_more": entry["has_more"],
        },
    }
