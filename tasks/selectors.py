"""Reads, always scoped by the user or the project: `<thing>_list` / `<thing>_get`, keyword-only.

A `_get` that finds nothing raises `NotFound` (a PortalError and an Http404): the API answers it
as 404 `not_found`, a page as its 404, with the same words.
"""

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from tasks.diff import changes_between
from tasks.errors import NotFound
from tasks.models import AuditEvent, CloudProject, Membership, TaskSnapshot, TrackedTask


def project_list(*, user) -> QuerySet[CloudProject]:
    """Projects `user` may see, each annotated with `user_role` (None for superusers' extras)."""
    if not user.is_authenticated:
        return CloudProject.objects.none()
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    projects = CloudProject.objects.annotate(user_role=Subquery(role))
    if user.is_superuser:
        return projects
    return projects.filter(memberships__user=user)


def member_list(*, project: CloudProject) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def member_get(*, project: CloudProject, username: str) -> Membership:
    """The membership of `username` in `project`; NotFound if they are not a member."""
    found = member_list(project=project).filter(user__username=username).first()
    if found is None:
        raise NotFound(reason="member")
    return found


def audit_event_list(*, project: CloudProject, limit: int = 20) -> QuerySet[AuditEvent]:
    return project.audit_events.all()[:limit]


def tracked_task_list(
    *,
    project: CloudProject,
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


def tracked_task_get(*, project: CloudProject, service: str, task_id: str) -> TrackedTask:
    """The task as the portal tracks it; NotFound (`not_fetched`) if it never fetched it."""
    try:
        return TrackedTask.objects.get(project=project, service=service, task_id=task_id)
    except TrackedTask.DoesNotExist:
        raise NotFound(reason="not_fetched") from None


def snapshot_list(*, tracked: TrackedTask) -> QuerySet[TaskSnapshot]:
    """A task's history, newest first, without the payloads (lists don't show them). Counted by
    the task's `snapshot_count`, so a paginator's first page costs the same at any length."""
    return (
        TaskSnapshot.objects.filter(task=tracked)
        .defer("payload")
        .order_by("-seq")
        .with_known_count(tracked.snapshot_count)
    )


def snapshot_get(*, tracked: TrackedTask, snapshot_id: Any) -> TaskSnapshot:
    try:
        return TaskSnapshot.objects.get(task=tracked, pk=int(snapshot_id))
    except (TaskSnapshot.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(reason="snapshot") from None


def snapshot_previous(*, snapshot: TaskSnapshot) -> TaskSnapshot | None:
    return (
        TaskSnapshot.objects.filter(task_id=snapshot.task_id, seq__lt=snapshot.seq)
        .order_by("-seq")
        .first()
    )


def snapshot_changes(*, snapshot: TaskSnapshot) -> list[dict[str, Any]]:
    """What changed from the previous version ([] for the first)."""
    previous = snapshot_previous(snapshot=snapshot)
    return changes_between(previous.payload if previous else None, snapshot.payload)


def snapshot_page_changes(
    *, tracked: TrackedTask, snapshots: list[TaskSnapshot]
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
