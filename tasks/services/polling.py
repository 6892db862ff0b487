"""Batched polling of watched tasks: one upstream list (whole task documents, 1,000 a page) per
(project, service) instead of one ShowTask per task, with due work kept in `PollSchedule` rows.

A cycle: list the service's tasks until every watched one is found (or the list ends); record each
listed document through the one snapshot path (a changed one as a new version with its events, the
unchanged ones as one bulk sighting); fetch each watched task missing from the list alone through
`task_fetch` (a 404 there is `task_gone`); then move the schedule on by the project's
`poll_interval` and record the project's `upstream_failing` / `upstream_recovered`.

The worker (tasks.worker) and `manage.py poll_tasks` both call `poll_service`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from tasks.caching import ratelimit
from tasks.errors import CredentialsUnavailable, PortalError, error_text
from tasks.models import CloudProject, PollSchedule, TaskSnapshot, TrackedTask
from tasks.services.events import event_record_upstream
from tasks.services.snapshots import content_hash, snapshot_record
from tasks.services.task_fetch import task_cache_key, task_fetch
from tasks.upstream import client_for
from tasks.vas import errors as vas_errors

logger = logging.getLogger(__name__)

#: The largest page the upstream list serves, and what to ask when it refuses that with a 400.
PAGE_SIZE = 1000
FALLBACK_PAGE_SIZE = 100
#: How long a claimed schedule stays claimed: a worker killed mid-poll is redone after it.
CLAIM_LEASE = timedelta(seconds=300)
#: `upstream_failing` after every poll failed for max(3 × poll_interval, this).
FAILING_AFTER = timedelta(minutes=15)
_BULK = 500


@dataclass
class Listed:
    """What a list pass found: watched task id → (redacted document, upstream request id)."""

    documents: dict[str, tuple[dict[str, Any], str | None]] = field(default_factory=dict)
    calls: int = 0


@dataclass
class PollOutcome:
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    calls: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PollOutcome) -> None:
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.calls += other.calls
        self.errors += other.errors


ListFetcher = Callable[..., Listed]


def budget_take(project: CloudProject) -> None:
    """Counts one upstream call against the project's budget only (PORTAL_UPSTREAM_PROJECT_RATE:
    the worker acts for no user); over budget it raises the `throttled` error and the cycle is
    tried again at the next interval."""
    ratelimit.upstream_budget_take(project=project, user=None)


def vas_list_watched(*, project: CloudProject, service: str, wanted: set[str]) -> Listed:
    """Pages through a VAS service's task list (oldest first, so new tasks append at the end)
    until every wanted id is found or the list ends."""
    client = client_for(project)
    listed = Listed()
    limit, offset = PAGE_SIZE, 0
    while True:
        budget_take(project)
        try:
            page = client.list_tasks(service, offset=offset, limit=limit, order="created_at:ASC")
        except vas_errors.UpstreamBadRequest:
            listed.calls += 1
            if limit == PAGE_SIZE and offset == 0:
                limit = FALLBACK_PAGE_SIZE  # an upstream that refuses 1,000 a page
                continue
            raise
        listed.calls += 1
        for doc in page.tasks:
            task_id = doc.get("id")
            if isinstance(task_id, str) and task_id in wanted:
                listed.documents[task_id] = (doc, page.request_id)
        offset += len(page.tasks)
        if (
            not page.tasks
            or len(page.tasks) < limit
            or offset >= page.count
            or wanted <= listed.documents.keys()
        ):
            return listed


#: Per-service list functions; services without an entry use the VAS list. The VIAS service
#: registers its own (`poll_lister_register("vias", …)`).
_LISTERS: dict[str, ListFetcher] = {}


def poll_lister_register(service: str, lister: ListFetcher) -> None:
    _LISTERS[service] = lister


def poll_lister(service: str) -> ListFetcher:
    return _LISTERS.get(service, vas_list_watched)


class Watched(NamedTuple):
    """What a cycle needs of a watched task (plain values: a cycle reads thousands)."""

    pk: int
    state: str
    gone_at: datetime | None
    newest_hash: str | None
    newest_pk: int | None


def _watched(project: CloudProject, service: str) -> dict[str, Watched]:
    newest = TaskSnapshot.objects.filter(task=OuterRef("pk")).order_by("-seq")
    rows = (
        TrackedTask.objects.filter(project=project, service=service, watched=True)
        .annotate(
            newest_hash=Subquery(newest.values("content_hash")[:1]),
            newest_pk=Subquery(newest.values("pk")[:1]),
        )
        .values_list("task_id", "pk", "state", "gone_at", "newest_hash", "newest_pk")
    )
    return {task_id: Watched(*rest) for task_id, *rest in rows}


def _record_listed(
    *, project: CloudProject, service: str, watched: dict[str, Watched], listed: Listed
) -> tuple[int, int]:
    """Stores what the list returned: changed documents through snapshot_record (one version
    and its events each), unchanged ones as a sighting in two bulk UPDATEs."""
    now = timezone.now()
    changed, same_snapshots, same_tasks = [], [], []
    new_versions = []
    for task_id, (doc, request_id) in listed.documents.items():
        tracked = watched[task_id]
        unchanged = (
            tracked.newest_hash == content_hash(doc)
            and tracked.gone_at is None
            and tracked.state == str(doc.get("state") or "")[:32]
        )
        if unchanged:
            same_snapshots.append(tracked.newest_pk)
            same_tasks.append(tracked.pk)
        else:
            new_versions.append((task_id, doc, request_id))
    # The changed ones a batch at a time in one transaction (one commit, not one each): each
    # snapshot_record is then a savepoint, and still alone in recording its version.
    for start in range(0, len(new_versions), _BULK):
        with transaction.atomic():
            for task_id, doc, request_id in new_versions[start : start + _BULK]:
                snapshot_record(
                    project=project,
                    service=service,
                    task_id=task_id,
                    payload=doc,
                    request_id=request_id,
                    now=now,
                )
                changed.append(task_cache_key(project, service, task_id))
    with transaction.atomic():
        for start in range(0, len(same_snapshots), _BULK):
            TaskSnapshot.objects.filter(pk__in=same_snapshots[start : start + _BULK]).update(
                last_seen=now, times_seen=F("times_seen") + 1
            )
            TrackedTask.objects.filter(pk__in=same_tasks[start : start + _BULK]).update(
                last_fetched=now
            )
    if changed:
        cache.delete_many(changed)  # pages fetch the new version instead of a cached old one
    return len(changed), len(same_tasks)


def _fetch_alone(project: CloudProject, service: str, task_id: str) -> tuple[str, str]:
    try:
        result = task_fetch(project=project, service=service, task_id=task_id, refresh=True)
    except (vas_errors.VasError, PortalError) as exc:
        return "failed", f"{service}/{task_id}: {exc.code}: {error_text(exc)}"
    if result.meta["source"] != "upstream":
        code = (result.meta["error"] or {}).get("code")
        return "failed", f"{service}/{task_id}: {code} (stale copy kept)"
    return ("changed" if result.changed else "unchanged"), ""


def _fetch_missing(
    project: CloudProject, service: str, missing: list[str], concurrency: int
) -> PollOutcome:
    """Each watched task the list did not return, fetched alone, at most `concurrency` at once."""
    outcome = PollOutcome(calls=len(missing))
    if not missing:
        return outcome

    def one(task_id: str) -> tuple[str, str]:
        try:
            return _fetch_alone(project, service, task_id)
        finally:
            connections.close_all()  # this pool thread's connection

    if concurrency <= 1 or len(missing) == 1:
        results = [_fetch_alone(project, service, task_id) for task_id in missing]
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(missing))) as pool:
            results = list(pool.map(one, missing))
    for kind, detail in results:
        setattr(outcome, kind, getattr(outcome, kind) + 1)
        if detail:
            outcome.errors.append(detail)
    return outcome


def poll_service(
    *, project: CloudProject, service: str, concurrency: int | None = None
) -> PollOutcome:
    """One polling cycle for one (project, service), then its schedule moves on."""
    concurrency = concurrency or settings.PORTAL_POLL_CONCURRENCY
    started = timezone.now()
    watched = _watched(project, service)
    if not watched:
        _finish(project=project, service=service, started=started, error=None)
        return PollOutcome()
    try:
        listed = poll_lister(service)(project=project, service=service, wanted=set(watched))
    except (vas_errors.VasError, CredentialsUnavailable, PortalError) as exc:
        _finish(project=project, service=service, started=started, error=exc)
        return PollOutcome(
            failed=len(watched),
            calls=1,
            errors=[f"{service} (list): {exc.code}: {error_text(exc)}"],
        )
    changed, unchanged = _record_listed(
        project=project, service=service, watched=watched, listed=listed
    )
    outcome = PollOutcome(changed=changed, unchanged=unchanged, calls=listed.calls)
    missing = sorted(set(watched) - listed.documents.keys())
    outcome.add(_fetch_missing(project, service, missing, concurrency))
    _finish(project=project, service=service, started=started, error=None)
    return outcome


def _finish(
    *, project: CloudProject, service: str, started: datetime, error: Exception | None
) -> None:
    """Moves the schedule on by the interval (longer after a 429/5xx with Retry-After), releases
    the claim, and records the project's upstream failing or recovering."""
    now = timezone.now()
    interval = timedelta(seconds=project.poll_interval)
    retry_after = getattr(error, "retry_after", None) or 0
    throttled = isinstance(error, PortalError) and error.code == "throttled"
    with transaction.atomic():
        schedule, _ = PollSchedule.objects.select_for_update().get_or_create(
            project=project, service=service, defaults={"next_poll_at": now}
        )
        schedule.last_poll_at = started
        schedule.next_poll_at = started + max(interval, timedelta(seconds=retry_after))
        schedule.claimed_until = None
        fields = ["last_poll_at", "next_poll_at", "claimed_until"]
        if error is None:
            schedule.last_success_at, schedule.failing_since, schedule.failing_code = now, None, ""
            fields += ["last_success_at", "failing_since", "failing_code"]
        elif not throttled:  # our own budget is no upstream failure
            schedule.failing_since = schedule.failing_since or started
            schedule.failing_code = str(getattr(error, "code", "upstream_error"))[:64]
            fields += ["failing_since", "failing_code"]
        schedule.save(update_fields=fields)
    if not throttled:
        _project_upstream(project=project, now=now, ok=error is None)


def _project_upstream(*, project: CloudProject, now: datetime, ok: bool) -> None:
    if ok:
        event_record_upstream(project=project, failing_since=None, error_code="", seen_at=now)
        return
    schedules = list(PollSchedule.objects.filter(project=project))
    if not schedules or any(s.failing_since is None for s in schedules):
        return  # some service still answers
    since = max(s.failing_since for s in schedules if s.failing_since is not None)
    threshold = max(3 * timedelta(seconds=project.poll_interval), FAILING_AFTER)
    if now - since >= threshold:
        code = max(schedules, key=lambda s: s.failing_since or since).failing_code
        event_record_upstream(
            project=project, failing_since=since, error_code=code or "", seen_at=now
        )


# ---- due work ------------------------------------------------------------------------------------


def schedules_ensure(*, now: datetime | None = None) -> int:
    """A schedule for every (project, service) with a watched task (due now when new); drops
    the schedules with nothing watched. Returns how many were added."""
    now = now or timezone.now()
    pairs = set(
        TrackedTask.objects.filter(watched=True).values_list("project_id", "service").distinct()
    )
    existing = set(PollSchedule.objects.values_list("project_id", "service"))
    new = [
        PollSchedule(project_id=project_id, service=service, next_poll_at=now)
        for project_id, service in pairs - existing
    ]
    PollSchedule.objects.bulk_create(new, ignore_conflicts=True)
    for project_id, service in existing - pairs:
        PollSchedule.objects.filter(
            project_id=project_id, service=service, claimed_until__isnull=True
        ).delete()
    return len(new)


def schedules_claim_due(*, horizon: float = 0.0, limit: int = 200) -> list[tuple[int, datetime]]:
    """Claims the schedules due within `horizon` seconds: [(schedule id, when it is due)].

    Each claim is a conditional UPDATE (due, and no live lease), so of several workers claiming
    at once exactly one gets each row, on SQLite and PostgreSQL alike.
    """
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    due = list(
        PollSchedule.objects.filter(free, next_poll_at__lte=now + timedelta(seconds=horizon))
        .order_by("next_poll_at")
        .values_list("pk", "next_poll_at")[:limit]
    )
    claimed = []
    for pk, due_at in due:
        won = PollSchedule.objects.filter(free, pk=pk, next_poll_at=due_at).update(
            claimed_until=max(due_at, now) + CLAIM_LEASE
        )
        if won:
            claimed.append((pk, due_at))
    return claimed


def poll_claimed(*, schedule_id: int) -> PollOutcome | None:
    """Runs the cycle of a schedule this worker claimed; None when the claim was lost (its
    lease ran out and another worker took it) or the schedule is gone."""
    now = timezone.now()
    schedule = (
        PollSchedule.objects.select_related("project")
        .filter(pk=schedule_id, claimed_until__gte=now)
        .first()
    )
    if schedule is None:
        return None
    return poll_service(project=schedule.project, service=schedule.service)


def poll_all(
    *, project: CloudProject | None = None, concurrency: int = 4
) -> tuple[int, PollOutcome]:
    """`manage.py poll_tasks`: one cycle now for every (project, service) with watched tasks,
    `concurrency` of them at once. Returns (watched tasks, the summed outcome)."""
    watched = TrackedTask.objects.filter(watched=True)
    if project is not None:
        watched = watched.filter(project=project)
    pairs = sorted(set(watched.values_list("project_id", "service")))
    projects = CloudProject.objects.in_bulk({p for p, _ in pairs})
    total = PollOutcome()

    def one(pair: tuple[int, str]) -> PollOutcome:
        try:
            return poll_service(project=projects[pair[0]], service=pair[1], concurrency=concurrency)
        finally:
            connections.close_all()

    if concurrency <= 1 or len(pairs) <= 1:
        outcomes = [
            poll_service(project=projects[p], service=s, concurrency=concurrency) for p, s in pairs
        ]
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(pairs))) as pool:
            outcomes = list(pool.map(one, pairs))
    for outcome in outcomes:
        total.add(outcome)
    return watched.count(), total
