"""Fleet test helpers: tasks with a made-up history, written straight into the tables (the times
of each version are the point), and projects in bulk for the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

from tasks.models import CloudProject, Membership, Role, TaskSnapshot, TrackedTask
from tasks.services.attention import payload_problems_field

SERVICE = "c-face-edge"
_ids = count(1)


def task_payload(task_id: str, state: str, **extra) -> dict:
    return {**extra, "id": task_id, "name": f"camera {task_id[-4:]}", "state": state}


def make_task(
    project: CloudProject,
    history: list[tuple[str, datetime, datetime]],
    *,
    task_id: str | None = None,
    service: str = SERVICE,
    watched: bool = True,
    payload_extra: dict | None = None,
    name: str | None = None,
) -> TrackedTask:
    """A tracked task whose versions are `history`: (state, first_seen, last_seen), oldest first."""
    task_id = task_id or f"{next(_ids):032x}"
    newest_state, _first, newest_last = history[-1]
    extra = {k: v for k, v in (payload_extra or {}).items() if k not in ("id", "state")}
    payload = task_payload(task_id, newest_state, **extra)
    tracked = TrackedTask.objects.create(
        project=project,
        service=service,
        task_id=task_id,
        name=name or payload["name"],
        state=newest_state,
        watched=watched,
        first_seen=history[0][1],
        last_fetched=newest_last,
        last_changed=history[-1][1],
        snapshot_count=len(history),
        payload_problems=payload_problems_field(payload),
    )
    TaskSnapshot.objects.bulk_create(
        TaskSnapshot(
            task=tracked,
            seq=seq,
            payload=task_payload(task_id, state, v=seq),
            content_hash=f"{seq:064x}",
            state=state,
            first_seen=first,
            last_seen=last,
        )
        for seq, (state, first, last) in enumerate(history, start=1)
    )
    return tracked


def make_projects(n: int, *, admin=None, viewer=None, prefix: str = "Fleet") -> list[CloudProject]:
    projects = CloudProject.objects.bulk_create(
        CloudProject(
            name=f"{prefix} {i:03d}",
            upstream_project_id=f"{i:032x}",
            endpoint="https://iva.cn-north-4.myhuaweicloud.com",
            iam_endpoint="https://iam.cn-north-4.myhuaweicloud.com",
            badge_key=f"{prefix.lower()}-badge-key-{i:03d}-0123456789abcdef",
        )
        for i in range(n)
    )
    projects = list(CloudProject.objects.filter(name__startswith=prefix + " ").order_by("name"))
    memberships = []
    for project in projects:
        if admin is not None:
            memberships.append(Membership(project=project, user=admin, role=Role.ADMIN))
        if viewer is not None:
            memberships.append(Membership(project=project, user=viewer, role=Role.VIEWER))
    Membership.objects.bulk_create(memberships)
    return projects


def steady(now: datetime, state: str = "RUNNING", *, hours: float = 2) -> list:
    """A one-version history seen up to `now` for the last `hours`."""
    return [(state, now - timedelta(hours=hours), now)]
