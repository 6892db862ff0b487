"""Start and stop a task (admins): refused before any upstream call when pointless, audited,
followed by a refetch that records the fresh snapshot."""

from __future__ import annotations

from typing import Literal

from tasks.errors import PortalError
from tasks.models import CloudProject
from tasks.services.audit import audit_record
from tasks.services.task_fetch import TaskResult, task_fetch, validate_identifiers
from tasks.services.task_upstream import upstream_call

#: States from which StartTask / StopTask make sense (the upstream documents no transitions,
#: VAS-API.md §3.1; ABNORMAL may be restarted or stopped).
START_FROM = frozenset({"STOPPED", "START_FAILED", "ABNORMAL", "FAILED", "SUCCEEDED"})
# VIAS adds SCHEDULING (between weekly windows) and LACK_OF_RESOURCES (waiting for capacity):
# both are stopped, not started (§10); no VAS task is ever in them.
STOP_FROM = frozenset(
    {"RUNNING", "STARTING", "PENDING", "ABNORMAL", "RECOVERING", "SCHEDULING", "LACK_OF_RESOURCES"}
)


class InvalidState(PortalError):
    """The action makes no sense in the task's current state; nothing was sent upstream.

    The catalogue's `invalid_state` is 400 (the task list's state filter); its action reasons
    are 409, as the contract answers an action."""

    code = "invalid_state"


def refuse_stale(result: TaskResult) -> None:
    """An action never acts on a stale copy: the upstream's failure is the answer."""
    if result.meta.get("source") != "stale":
        return
    error = result.meta.get("error") or {}
    raise PortalError(
        str(error.get("code") or "upstream_unavailable"),
        reason=str(error.get("reason") or ""),
        params=error.get("params") if isinstance(error.get("params"), dict) else None,
    )


def _act(
    *, actor, project: CloudProject, service: str, task_id: str, action: Literal["start", "stop"]
) -> TaskResult:
    validate_identifiers(service=service, task_id=task_id)
    # The state as the portal knows it now: the cache while fresh, else the upstream.
    current = task_fetch(project=project, service=service, task_id=task_id, actor=actor)
    refuse_stale(current)
    state = str(current.task.get("state") or "")
    allowed = START_FROM if action == "start" else STOP_FROM
    if state not in allowed:
        raise InvalidState(
            reason="not_startable" if action == "start" else "not_stoppable",
            params={"state": state or "?"},
        )
    request_id = upstream_call(
        project=project, service=service, task_id=task_id, action=action, actor=actor
    )
    audit_record(
        actor=actor,
        project=project,
        action="task.started" if action == "start" else "task.stopped",
        service=service,
        task_id=task_id,
        from_state=state,
        upstream_request_id=request_id,
    )
    # The fresh version the action caused, stored like any fetch (snapshot, cache, events).
    return task_fetch(project=project, service=service, task_id=task_id, refresh=True)


def task_start(*, actor, project: CloudProject, service: str, task_id: str) -> TaskResult:
    """StartTask, then the refetched task. InvalidState (409) when it is not startable."""
    return _act(actor=actor, project=project, service=service, task_id=task_id, action="start")


def task_stop(*, actor, project: CloudProject, service: str, task_id: str) -> TaskResult:
    """StopTask, then the refetched task. InvalidState (409) when it is not stoppable."""
    return _act(actor=actor, project=project, service=service, task_id=task_id, action="stop")
