"""The two decisions that differ between VAS and VIAS, each in one small function: which upstream
call performs an action, and where a task document keeps its `target_roi`.

VAS (VAS-API.md §2): StartTask/StopTask `POST …/tasks/{id}/start|stop` (202), UpdateTask
`PUT …/tasks/{id}`, `service_config.common.target_roi`. VIAS (§10) plugs in here by its
service key: `PUT …/tasks/{id}/action/start|stop` (200), UpdateTask `PUT /v2/{p}/tasks/{id}`,
`config.common.target_roi`.
"""

from __future__ import annotations

from typing import Any, Literal

from tasks.caching.ratelimit import upstream_budget_take
from tasks.models import CloudProject
from tasks.upstream import client_for, vias_client_for
from tasks.vas import VIAS_SERVICE
from tasks.vas.client import Fetched

Action = Literal["start", "stop", "show_unredacted", "update"]


def target_roi_path(service: str) -> tuple[str, ...]:
    """The keys leading to a task document's `target_roi` for `service`."""
    if service == VIAS_SERVICE:
        return ("config", "common", "target_roi")
    return ("service_config", "common", "target_roi")


#: The UpdateTask body's fields (VAS-API.md §2: create's fields minus service_version,
#: edge_pool_id and resource_order_id), each sent as the upstream last showed it.
VAS_UPDATE_FIELDS = ("name", "description", "timing", "input", "output", "service_config")
#: VIAS' UpdateTasksRequestBody (VAS-API.md §10): schedule and config instead.
VIAS_UPDATE_FIELDS = ("name", "description", "schedule", "input", "output", "config")


def update_fields(service: str) -> tuple[str, ...]:
    """The top-level fields of `service`'s UpdateTask body."""
    return VIAS_UPDATE_FIELDS if service == VIAS_SERVICE else VAS_UPDATE_FIELDS


def upstream_call(
    *,
    project: CloudProject,
    service: str,
    task_id: str,
    action: Action,
    body: dict[str, Any] | None = None,
    actor: Any = None,
) -> Fetched | str | None:
    """Performs `action` upstream. start/stop return the request id; show_unredacted returns the
    task with its secrets (build an update body from it in memory only); update returns the
    updated task, redacted. The call spends `actor`'s and the project's upstream budget."""
    upstream_budget_take(project=project, user=actor)
    if service == VIAS_SERVICE:
        vias = vias_client_for(project)
        if action == "start":
            return vias.start_task(task_id)
        if action == "stop":
            return vias.stop_task(task_id)
        if action == "show_unredacted":
            return vias.show_task_unredacted(task_id)
        if action == "update":
            return vias.update_task(task_id, body or {})
        raise ValueError(f"unknown action {action!r}")
    client = client_for(project)
    if action == "start":
        return client.start_task(service, task_id)
    if action == "stop":
        return client.stop_task(service, task_id)
    if action == "show_unredacted":
        return client.show_task_unredacted(service, task_id)
    if action == "update":
        return client.update_task(service, task_id, body or {})
    raise ValueError(f"unknown action {action!r}")
