"""The deduplicated history of a task: one row per distinct version of its (redacted) JSON."""

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from tasks.models import CloudProject, TaskSnapshot, TrackedTask
from tasks.services.attention import payload_problems_field
from tasks.services.events import event_record_back, event_record_for_change, event_record_gone

#: Left out of a version's identity: ShowTask carries it and the task list never does, so a
#: version fetched through the list and one fetched alone are the same snapshot.
UNVERSIONED_KEYS = ("hosting_result",)


def content_hash(payload: dict[str, Any]) -> str:
    versioned = {k: v for k, v in payload.items() if k not in UNVERSIONED_KEYS}
    canonical = json.dumps(versioned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _frame_of(tracked: TrackedTask) -> tuple[int, int] | None:
    """The reference still's size, when one is stored (tasks.services.frames keeps it)."""
    width, height = getattr(tracked, "frame_width", None), getattr(tracked, "frame_height", None)
    return (width, height) if width and height else None


def snapshot_record(
    *,
    project: CloudProject,
    service: str,
    task_id: str,
    payload: dict[str, Any],
    request_id: str | None,
    now: datetime,
) -> tuple[TrackedTask, TaskSnapshot, bool]:
    """Records one fetch. The same content as the newest snapshot only counts a sighting; new
    content adds a row. Returns (tracked task, snapshot, whether it changed).

    Safe when two processes record the same task at once: both may try to add version N+1, the
    unique (task, seq) constraint lets one win, and the other retries and sees it. Always the same
    handful of queries, however long the history.
    """
    digest = content_hash(payload)
    name = str(payload.get("name") or "")[:200]
    state = str(payload.get("state") or "")[:32]
    last_error: IntegrityError | None = None
    for _attempt in range(3):
        try:
            with transaction.atomic():
                tracked, created = TrackedTask.objects.get_or_create(
                    project=project,
                    service=service,
                    task_id=task_id,
                    defaults={
                        "name": name,
                        "state": state,
                        "first_seen": now,
                        "last_fetched": now,
                        "last_changed": now,
                    },
                )
                newest = (
                    TaskSnapshot.objects.filter(task=tracked)
                    .order_by("-seq")
                    .only("id", "seq", "content_hash", "first_seen", "times_seen")
                    .first()
                )
                changed = newest is None or newest.content_hash != digest
                if newest is None or changed:
                    snapshot = TaskSnapshot.objects.create(
                        task=tracked,
                        seq=(newest.seq + 1) if newest else 1,
                        payload=payload,
                        content_hash=digest,
                        state=state,
                        upstream_updated_at=str(payload.get("updated_at") or "")[:64],
                        upstream_request_id=(request_id or "")[:128],
                        first_seen=now,
                        last_seen=now,
                    )
                else:
                    TaskSnapshot.objects.filter(pk=newest.pk).update(
                        last_seen=now, times_seen=F("times_seen") + 1
                    )
                    snapshot = newest
                # Counted in the transaction that adds the row: a writer that loses the race
                # on (task, seq) counts nothing before it retries.
                new_version = (
                    {
                        "last_changed": now,
                        "snapshot_count": F("snapshot_count") + 1,
                        # Read from the payload once per version, not by every "needs attention".
                        "payload_problems": payload_problems_field(
                            payload, service, _frame_of(tracked)
                        ),
                    }
                    if changed
                    else {}
                )
                TrackedTask.objects.filter(pk=tracked.pk).update(
                    name=name, state=state, last_fetched=now, gone_at=None, **new_version
                )
                # The monitor's events, in this transaction: a writer that loses the race above
                # records none, so each change is one event.
                if changed and newest is not None:
                    event_record_for_change(
                        task=tracked, old_snapshot=newest, new_snapshot=snapshot, seen_at=now
                    )
                if tracked.gone_at is not None and not created:
                    event_record_back(
                        task=tracked,
                        gone_at=tracked.gone_at,
                        state=state,
                        seen_at=now,
                        request_id=request_id,
                    )
                return tracked, snapshot, changed
        except IntegrityError as exc:  # another writer added the same version first
            last_error = exc
    raise last_error  # type: ignore[misc]


@transaction.atomic
def snapshot_prune(*, tracked: TrackedTask, keep: int | None, cutoff: datetime | None) -> int:
    """Retention for one task: drops its snapshots beyond the newest `keep` and/or last seen
    before `cutoff` (both given: either rule drops one), never the newest. Returns how many."""
    if keep is None and cutoff is None:
        raise ValueError("give keep and/or cutoff")
    # The task's row first: a snapshot_record adding a version meanwhile waits here to count it,
    # so the recount below neither misses it nor is overwritten.
    TrackedTask.objects.select_for_update().filter(pk=tracked.pk).values_list("pk").first()
    newest_seqs = list(
        TaskSnapshot.objects.filter(task=tracked)
        .order_by("-seq")
        .values_list("seq", flat=True)[: keep or 1]
    )
    deleted = 0
    if newest_seqs:
        rules = Q()
        if keep is not None:
            rules |= Q(seq__lt=newest_seqs[-1])
        if cutoff is not None:
            rules |= Q(last_seen__lt=cutoff)
        # Only below the newest as read here: a version another process adds meanwhile stays.
        doomed = TaskSnapshot.objects.filter(rules, task=tracked, seq__lt=newest_seqs[0])
        deleted = doomed.delete()[1].get(TaskSnapshot._meta.label, 0)
    # Counted again rather than decremented: a batch job can afford it, and it heals a count
    # that rows written around the service (a restore, a bulk import) put out of step.
    TrackedTask.objects.filter(pk=tracked.pk).update(
        snapshot_count=TaskSnapshot.objects.filter(task=tracked).count()
    )
    return deleted


def snapshot_mark_gone(*, project: CloudProject, service: str, task_id: str, now: datetime) -> None:
    """The upstream answered 404: keep the history, say the task is gone (a `task_gone` event
    from the one process whose conditional update marked it)."""
    with transaction.atomic():
        marked = TrackedTask.objects.filter(
            project=project, service=service, task_id=task_id, gone_at__isnull=True
        ).update(gone_at=now, last_fetched=now)
        if marked:
            tracked = TrackedTask.objects.get(project=project, service=service, task_id=task_id)
            event_record_gone(task=tracked, seen_at=now)


def snapshot_newest(*, project: CloudProject, service: str, task_id: str) -> TaskSnapshot | None:
    return (
        TaskSnapshot.objects.filter(
            task__project=project, task__service=service, task__task_id=task_id
        )
        .order_by("-seq")
        .first()
    )
