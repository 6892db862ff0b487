"""Reads, always scoped by the user or the project."""

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.diff import changes_between
from tasks.models import (
    AuditEvent,
    CloudProject,
    Membership,
    TaskSnapshot,
    TrackedTask,
)
from tasks.roi import roi_for_task
from tasks.services.task_fetch import TaskResult, iso_utc


def projects_for_user(user) -> QuerySet[CloudProject]:
    """Projects `user` may see, each annotated with `user_role` (None for superusers' extras)."""
    if not user.is_authenticated:
        return CloudProject.objects.none()
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    projects = CloudProject.objects.annotate(user_role=Subquery(role))
    if user.is_superuser:
        return projects
    return projects.filter(memberships__user=user)


def members_of(project: CloudProject) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def recent_events(project: CloudProject, limit: int = 20) -> QuerySet[AuditEvent]:
    return project.audit_events.all()[:limit]


def tracked_tasks_for_project(
    project: CloudProject,
    *,
    state: str | None = None,
    service: str | None = None,
    watched: bool | None = None,
) -> QuerySet[TrackedTask]:
    """Tracked tasks of a project, most recently fetched first."""
    tasks = TrackedTask.objects.filter(project=project)
    if state:
        tasks = tasks.filter(state=state)
    if service:
        tasks = tasks.filter(service=service)
    if watched is not None:
        tasks = tasks.filter(watched=watched)
    return tasks.order_by("-last_fetched", "-id")


def get_tracked_task(project: CloudProject, service: str, task_id: str) -> TrackedTask:
    try:
        return TrackedTask.objects.get(project=project, service=service, task_id=task_id)
    except TrackedTask.DoesNotExist:
        raise Http404(_("This task has not been fetched through the portal yet.")) from None


def snapshots_for_task(tracked: TrackedTask) -> QuerySet[TaskSnapshot]:
    """A task's history, newest first, without the payloads (lists don't show them). Counted by
    the task's `snapshot_count`, so a paginator's first page costs the same at any length."""
    return (
        TaskSnapshot.objects.filter(task=tracked)
        .defer("payload")
        .order_by("-seq")
        .with_known_count(tracked.snapshot_count)
    )


def get_snapshot(tracked: TrackedTask, snapshot_id) -> TaskSnapshot:
    try:
        return TaskSnapshot.objects.get(task=tracked, pk=int(snapshot_id))
    except (TaskSnapshot.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such snapshot of this task.")) from None


def previous_snapshot(snapshot: TaskSnapshot) -> TaskSnapshot | None:
    return (
        TaskSnapshot.objects.filter(task_id=snapshot.task_id, seq__lt=snapshot.seq)
        .order_by("-seq")
        .first()
    )


def snapshot_changes(snapshot: TaskSnapshot) -> list[dict[str, Any]]:
    """What changed from the previous version ([] for the first)."""
    previous = previous_snapshot(snapshot)
    return changes_between(previous.payload if previous else None, snapshot.payload)


def snapshot_result(snapshot: TaskSnapshot) -> TaskResult:
    """A stored version shaped like a live answer; meta.source is "snapshot"."""
    return TaskResult(
        task=snapshot.payload,
        roi=roi_for_task(snapshot.payload, snapshot.task.frame_size),
        meta={
            "source": "snapshot",
            "fetched_at": iso_utc(snapshot.last_seen.timestamp()),
            "age_seconds": max(0, int((timezone.now() - snapshot.last_seen).total_seconds())),
            "snapshot_id": snapshot.pk,
            "upstream_request_id": snapshot.upstream_request_id or None,
            "error": None,
        },
        tracked=snapshot.task,
    )


def changes_for_snapshots(
    tracked: TrackedTask, snapshots: list[TaskSnapshot]
) -> dict[int, list[dict[str, Any]]]:
    """What changed in each of `snapshots` (one page of a task's history: consecutive versions)
    from the version before it, by snapshot pk. One query whatever the page or history size: the
    payloads of the page plus the one version just before it, read backwards along the
    (task, seq) index from the page's newest and cut by LIMIT."""
    if not snapshots:
        return {}
    high = max(s.seq for s in snapshots)
    rows = list(
        TaskSnapshot.objects.filter(task=tracked, seq__lte=high)
        .order_by("-seq")
        .values_list("pk", "payload")[: len(snapshots) + 1]
    )
    changes: dict[int, list[dict[str, Any]]] = {}
    previous = None
    for pk, payload in reversed(rows):
        changes[pk] = changes_between(previous, payload)
        previous = payload
    return changes
