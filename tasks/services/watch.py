from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tasks.errors import PortalError
from tasks.models import CloudProject, TrackedTask
from tasks.services.audit import audit_record
from tasks.services.task_fetch import task_fetch, validate_identifiers


def task_watch(
    *, actor, project: CloudProject, service: str, task_id: str, watched: bool
) -> TrackedTask:
    """Marks (or unmarks) a task for `poll_tasks`. A task the portal never saw is fetched first,
    so only tasks that exist upstream can be watched."""
    validate_identifiers(service=service, task_id=task_id)
    tracked = TrackedTask.objects.filter(project=project, service=service, task_id=task_id).first()
    if tracked is None:
        task_fetch(project=project, service=service, task_id=task_id, actor=actor)
        tracked = TrackedTask.objects.get(project=project, service=service, task_id=task_id)
    with transaction.atomic():
        if tracked.watched != watched:
            tracked.watched = watched
            tracked.save(update_fields=["watched"])  # a save: tasks.caching.memo sees the change
            audit_record(
                actor=actor,
                project=project,
                action="task.watched" if watched else "task.unwatched",
                service=service,
                task_id=task_id,
            )
    return tracked


#: A mute reaches at most this far ahead (a maintenance window, not a way to switch alerts off).
MUTE_MAX = timedelta(days=30)


def task_mute(
    *, actor, project: CloudProject, service: str, task_id: str, until: datetime | None
) -> TrackedTask:
    """Mutes a task's notifications until `until` (None: unmutes). Its events are still
    recorded; no notification is created for an event seen while muted."""
    validate_identifiers(service=service, task_id=task_id)
    now = timezone.now()
    if until is not None and not now < until <= now + MUTE_MAX:
        raise PortalError("invalid_mute")
    tracked = TrackedTask.objects.filter(project=project, service=service, task_id=task_id).first()
    if tracked is None:
        task_fetch(project=project, service=service, task_id=task_id, actor=actor)
        tracked = TrackedTask.objects.get(project=project, service=service, task_id=task_id)
    with transaction.atomic():
        tracked.muted_until = until
        tracked.save(update_fields=["muted_until"])
        audit_record(
            actor=actor,
            project=project,
            action="task.muted" if until else "task.unmuted",
            service=service,
            task_id=task_id,
            **({"until": until.isoformat()} if until else {}),
        )
    return tracked
