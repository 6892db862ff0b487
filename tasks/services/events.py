"""Events: what changed in a task (or a project's upstream), recorded once per change, and the
notifications they cause.

Every fetch path that stores a new version (tasks.services.snapshots) calls
`event_record_for_change`; the 404 path calls `event_record_gone`; the poller calls
`event_record_upstream`. Each event carries a unique `dedupe_key` derived from what it records
(the task's snapshot sequence number, the time it went missing, …): two processes that see the
same change at once insert the same key and the loser's insert is dropped, so a change is one event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from tasks.diff import changes_between
from tasks.models import (
    Channel,
    CloudProject,
    EventKind,
    Notification,
    Severity,
    TaskEvent,
    TaskSnapshot,
    TrackedTask,
)

logger = logging.getLogger(__name__)

#: A state change into one of these is a problem (and STOPPED, when it came from RUNNING).
PROBLEM_STATES = frozenset(
    {"ABNORMAL", "FAILED", "CREATE_FAILED", "START_FAILED", "FREEZING", "FROZEN"}
)
#: Out of a problem into one of these is a recovery.
UP_STATES = frozenset({"RUNNING", "SUCCEEDED"})
#: The parts of a task document whose changes are `config_changed` (VIAS names them `config` and
#: `schedule`).
CONFIG_ROOTS = ("service_config", "input", "output", "timing", "config", "schedule")


def state_severity(from_state: str, to_state: str, *, open_problem: bool) -> str:
    """The contract's severity of a state change."""
    if to_state in PROBLEM_STATES or (to_state == "STOPPED" and from_state == "RUNNING"):
        return Severity.PROBLEM
    if to_state in UP_STATES and open_problem:
        return Severity.RECOVERY
    return Severity.INFO


def config_changed_paths(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The changed leaf paths of the configuration parts of a task document."""
    left = {key: before.get(key) for key in CONFIG_ROOTS if key in before or key in after}
    right = {key: after.get(key) for key in left}
    return [change["path"] for change in changes_between(left, right)]


def open_problem(*, task: TrackedTask | None, project_id: int) -> TaskEvent | None:
    """The first problem event since the last recovery of a task (of the project's upstream when
    `task` is None), or None when nothing is open. One query over the latest events."""
    events = TaskEvent.objects.filter(
        project_id=project_id, task=task, severity__in=[Severity.PROBLEM, Severity.RECOVERY]
    )
    if task is None:
        events = events.filter(kind__in=[EventKind.UPSTREAM_FAILING, EventKind.UPSTREAM_RECOVERED])
    first: TaskEvent | None = None
    for event in events.order_by("-seen_at", "-id")[:OPEN_PROBLEM_WINDOW]:
        if event.severity == Severity.RECOVERY:
            break
        first = event
    return first


#: How many of a task's latest problem events a recovery looks back through for the first one.
OPEN_PROBLEM_WINDOW = 50


def _payload(snapshot: TaskSnapshot) -> dict[str, Any]:
    if "payload" in snapshot.get_deferred_fields():
        return TaskSnapshot.objects.filter(pk=snapshot.pk).values_list("payload", flat=True)[0]
    return snapshot.payload


def _text(value: Any, limit: int = 500) -> str:
    return str(value)[:limit] if value not in (None, "") else ""


def _error_fields(payload: dict[str, Any]) -> dict[str, str]:
    error: dict[str, Any] = payload["error"] if isinstance(payload.get("error"), dict) else {}
    return {
        "status_text": _text(payload.get("status")),
        "error_text": _text(
            " ".join(str(error.get(k)) for k in ("code", "message") if error.get(k))
        ),
    }


def _insert(**fields: Any) -> TaskEvent | None:
    """Inserts one event, or None when another process recorded the same change first."""
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a loss
            return TaskEvent.objects.create(**fields)
    except IntegrityError:
        return None


def _record_task_event(
    *, task: TrackedTask, seen_at: datetime, request_id: str | None, **fields: Any
) -> TaskEvent | None:
    """Inserts one event about `task` (unless another process recorded it first) and queues its
    notifications."""
    event = _insert(
        project_id=task.project_id,
        task=task,
        service=task.service,
        task_id=task.task_id,
        task_name=task.name,
        seen_at=seen_at,
        request_id=request_id or "",
        **fields,
    )
    if event is not None:
        notifications_create(events=[event], task=task)
    return event


def _recovery_fields(problem: TaskEvent | None, seen_at: datetime, fallback=None) -> dict:
    since = problem.seen_at if problem is not None else fallback
    if problem is not None and problem.problem_since is not None:
        since = problem.problem_since
    if since is None:
        return {}
    return {
        "problem_since": since,
        "problem_seconds": max(0, int((seen_at - since).total_seconds())),
    }


def event_record_for_change(
    *,
    task: TrackedTask,
    old_snapshot: TaskSnapshot,
    new_snapshot: TaskSnapshot,
    seen_at: datetime,
) -> list[TaskEvent]:
    """Records the events of one new version of a task (a state change, a configuration change,
    or both) and their notifications. Called in the transaction that stores the version."""
    before, after = _payload(old_snapshot), new_snapshot.payload
    common = {
        "project_id": task.project_id,
        "task": task,
        "service": task.service,
        "task_id": task.task_id,
        "task_name": _text(after.get("name") or task.name, 200),
        "seen_at": seen_at,
        "request_id": new_snapshot.upstream_request_id,
        **_error_fields(after),
    }
    key = f"v:{task.pk}:{new_snapshot.seq}"
    # No savepoint: the caller's unique (task, seq) insert already made this writer the only one
    # recording this version (a loser rolls back and records nothing).
    recorded: list[TaskEvent] = []
    from_state, to_state = str(before.get("state") or ""), str(after.get("state") or "")
    if from_state != to_state:
        # Only a change into an up state can close a problem: look for one only then.
        problem = (
            open_problem(task=task, project_id=task.project_id) if to_state in UP_STATES else None
        )
        severity = state_severity(from_state, to_state, open_problem=problem is not None)
        extra = _recovery_fields(problem, seen_at) if severity == Severity.RECOVERY else {}
        recorded.append(
            TaskEvent(
                **common,
                kind=EventKind.STATE_CHANGED,
                severity=severity,
                from_state=from_state,
                to_state=to_state,
                dedupe_key=f"{key}:state",
                **extra,
            )
        )
    paths = config_changed_paths(before, after)
    if paths:
        recorded.append(
            TaskEvent(
                **common,
                kind=EventKind.CONFIG_CHANGED,
                severity=Severity.INFO,
                from_state=from_state,
                to_state=to_state,
                changes=paths,
                dedupe_key=f"{key}:config",
            )
        )
    if recorded:
        recorded = TaskEvent.objects.bulk_create(recorded)
    notifications_create(events=recorded, task=task)
    return recorded


def event_record_gone(
    *, task: TrackedTask, seen_at: datetime, request_id: str | None = None
) -> TaskEvent | None:
    """The upstream answered 404 for a task the portal knew (only the process whose conditional
    update marked it gone calls this)."""
    return _record_task_event(
        task=task,
        seen_at=seen_at,
        request_id=request_id,
        kind=EventKind.TASK_GONE,
        severity=Severity.PROBLEM,
        from_state=task.state,
        dedupe_key=f"gone:{task.pk}:{seen_at.timestamp()}",
    )


def event_record_back(
    *, task: TrackedTask, gone_at: datetime, state: str, seen_at: datetime, request_id: str | None
) -> TaskEvent | None:
    """A task that had answered 404 is found again (keyed by when it went: once per absence)."""
    problem = open_problem(task=task, project_id=task.project_id)
    return _record_task_event(
        task=task,
        seen_at=seen_at,
        request_id=request_id,
        kind=EventKind.TASK_BACK,
        severity=Severity.RECOVERY,
        to_state=state,
        dedupe_key=f"back:{task.pk}:{gone_at.timestamp()}",
        **_recovery_fields(problem, seen_at, fallback=gone_at),
    )


@transaction.atomic
def event_record_upstream(
    *,
    project: CloudProject,
    failing_since: datetime | None,
    error_code: str,
    seen_at: datetime,
) -> TaskEvent | None:
    """A project's upstream is failing since `failing_since` (None: it answered again). Records
    `upstream_failing` once per outage and `upstream_recovered` once per `upstream_failing`."""
    problem = open_problem(task=None, project_id=project.pk)
    if failing_since is not None:
        if problem is not None:
            return None
        event = _insert(
            project=project,
            kind=EventKind.UPSTREAM_FAILING,
            severity=Severity.PROBLEM,
            error_code=error_code[:64],
            seen_at=seen_at,
            problem_since=failing_since,
            dedupe_key=f"failing:{project.pk}:{failing_since.timestamp()}",
        )
    else:
        if problem is None:
            return None
        event = _insert(
            project=project,
            kind=EventKind.UPSTREAM_RECOVERED,
            severity=Severity.RECOVERY,
            error_code=problem.error_code,
            seen_at=seen_at,
            dedupe_key=f"recovered:{problem.pk}",
            **_recovery_fields(problem, seen_at),
        )
    if event is not None:
        notifications_create(events=[event], task=None)
    return event


def notifications_create(*, events: Iterable[TaskEvent], task: TrackedTask | None) -> None:
    """One pending delivery per enabled channel that takes the event's severity: for watched
    tasks that are not muted, and for project events. Sent after the transaction commits."""
    events = list(events)
    if not events:
        return
    if task is not None:
        if not task.watched:
            return  # the events of unwatched tasks are recorded only
        muted = TrackedTask.objects.filter(pk=task.pk).values_list("muted_until", flat=True)[0]
        events = [e for e in events if muted is None or e.seen_at >= muted]
    channels = (
        list(Channel.objects.filter(project_id=events[0].project_id, enabled=True))
        if events
        else []
    )
    rows = [
        Notification(event=event, channel=channel, next_attempt_at=event.seen_at)
        for event in events
        for channel in channels
        if event.severity in (channel.severities or [])
    ]
    if not rows:
        return
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    event_ids = [e.pk for e in events]
    transaction.on_commit(lambda: _enqueue_deliveries(event_ids))


def _enqueue_deliveries(event_ids: list[int]) -> None:
    ids = list(
        Notification.objects.filter(event_id__in=event_ids, status="pending").values_list(
            "pk", flat=True
        )
    )
    try:
        from tasks.worker import deliveries_enqueue

        deliveries_enqueue(ids)
    except Exception:  # the queue is down: the worker's sweep sends them from the rows
        logger.warning("could not enqueue %d notification(s); the sweep will send them", len(ids))
