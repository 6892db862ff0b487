"""The upstream's own task list for a service, proxied and cached briefly."""

import hashlib
import json
import time
from typing import Any

from django.core.cache import cache

from tasks.caching.ratelimit import upstream_budget_take
from tasks.errors import PortalError
from tasks.models import CloudProject
from tasks.services.task_fetch import iso_utc, validate_service
from tasks.upstream import client_for
from tasks.vas.parsing import STATES

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
