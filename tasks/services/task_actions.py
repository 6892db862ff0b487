"""Start and stop a task (admins): refused before any upstream call when pointless, audited,
followed by a refetch that records the fresh snapshot."""

from __future__ import annotations

from typing import Literal

from django.utils.translation import gettext as _

from tasks.errors import PortalError
from tasks.models import CloudProject
from tasks.services.audit import audit_record
from tasks.services.task_fetch import TaskResult, task_fetch, validate_identifiers
from tasks.services.task_upstream import upstream_call
from tasks.vas import errors as vas_errors

#: States from which StartTask / StopTask make sense (the upstream documents no transitions,
#: VAS-API.md §3.1; ABNORMAL may be restarted or stopped).
START_FROM = frozenset({"STOPPED", "START_FAILED", "ABNORMAL", "FAILED", "SUCCEEDED"})
STOP_FROM = frozenset({"RUNNING", "STARTING", "PENDING", "ABNORMAL", "RECOVERING"})

_HTTP_STATUS = {
    cls.code: cls.http_status
    for cls in (
        vas_errors.UpstreamAuthFailed,
        vas_errors.UpstreamForbidden,
        vas_errors.UpstreamUnavailable,
        vas_errors.UpstreamTimeout,
        vas_errors.UpstreamInvalidResponse,
        vas_errors.EndpointNotAllowed,
    )
}


class InvalidState(PortalError):
    """The action makes no sense in the task's current state; nothing was sent upstream."""

    code = "invalid_state"
    http_status = 409


def refuse_stale(result: TaskResult) -> None:
    """An action never acts on a stale copy: the upstream's failure is the answer."""
    if result.meta.get("source") != "stale":
        return
    error = result.meta.get("error") or {}
    code = str(error.get("code") or "upstream_unavailable")
    raise PortalError(
        _("The upstream cannot be reached, so the portal does not act on its last copy: %(m)s")
        % {"m": error.get("message") or ""},
        code=code,
        http_status=_HTTP_STATUS.get(code, 503),
    )


def _act(
    *, actor, project: CloudProject, service: str, task_id: str, action: Literal["start", "stop"]
) -> TaskResult:
    validate_identifiers(service=service, task_id=task_id)
    # The state as the portal knows it now: the cache while fresh, else the upstream.
    current = task_fetch(project=project, service=service, task_id=task_id)
    refuse_stale(current)
    state = str(current.task.get("state") or "")
    allowed = START_FROM if action == "start" else STOP_FROM
    if state not in allowed:
        message = (
            _("The task is %(state)s: starting it makes no sense. Nothing was sent upstream.")
            if action == "start"
            else _("The task is %(state)s: stopping it makes no sense. Nothing was sent upstream.")
        )
        raise InvalidState(message % {"state": state or "?"})
    request_id = upstream_call(project=project, service=service, task_id=task_id, action=action)
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
