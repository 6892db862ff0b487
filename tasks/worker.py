"""The worker's queue (Huey) and its tasks: the sweep that claims due schedules and deliveries,
a poll of one (project, service), and one delivery.

Huey because it is small and plain, embeds in a file with no extra service (SqliteHuey, what
`make run` uses: beside the SQLite database) and runs on Redis in production (RedisHuey) with
the same code; several consumers on several machines share one queue. Correctness never rests on
the queue: the due work and every claim are rows in the database (tasks.services.polling,
tasks.services.notify), so a message lost with a killed worker is redone by the next sweep and a
message delivered twice finds its row already claimed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections
from django.utils import timezone
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

logger = logging.getLogger(__name__)

#: The sweep looks this far ahead and schedules what falls due in it to the second.
HORIZON = 60.0


def make_huey(url: str) -> Huey:
    """The queue named by PORTAL_WORKER_URL: `sqlite:///path`, `redis://…`, or `memory://`
    (one process only: tests)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("vasportal", url=url, results=False)
    if url.startswith("sqlite:///"):
        return SqliteHuey("vasportal", filename=url[len("sqlite:///") :], results=False)
    if url.startswith("memory://"):
        return MemoryHuey("vasportal", results=False)
    raise ImproperlyConfigured(
        "PORTAL_WORKER_URL must be empty, sqlite:///path, redis://host:port/db or memory://."
    )


huey = make_huey(settings.PORTAL_WORKER_URL)


def _with_db(func: Callable[..., Any]) -> Callable[..., Any]:
    """Huey runs tasks in its own threads: each task starts and ends with usable connections."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return run


def _eta(when: datetime) -> datetime:
    return max(when, timezone.now())


@huey.task()
@_with_db
def poll(schedule_id: int) -> None:
    from tasks.models import PollSchedule
    from tasks.services.polling import poll_claimed, schedules_claim_due

    poll_claimed(schedule_id=schedule_id)
    # A short interval is chained to the second instead of waiting for the next sweep.
    due = PollSchedule.objects.filter(pk=schedule_id).values_list("next_poll_at", flat=True).first()
    if due is not None and due <= timezone.now() + timedelta(seconds=HORIZON):
        for pk, eta in schedules_claim_due(horizon=HORIZON):
            poll.schedule((pk,), eta=_eta(eta))


@huey.task()
@_with_db
def deliver(notification_id: int) -> None:
    from tasks.models import Notification
    from tasks.services.notify import notification_deliver

    result = notification_deliver(notification_id=notification_id)
    if result is not None and result.status == "pending":
        due = Notification.objects.values_list("next_attempt_at", flat=True).get(pk=notification_id)
        deliver.schedule((notification_id,), eta=_eta(due))


def sweep() -> dict[str, int]:
    """Claims the schedules due within the horizon and queues their polls at their due time;
    queues the deliveries due (their rows are claimed when sent). Safe to run anywhere, often."""
    from tasks.services.notify import deliveries_due
    from tasks.services.polling import schedules_claim_due, schedules_ensure

    schedules_ensure()
    claimed = schedules_claim_due(horizon=HORIZON)
    for pk, eta in claimed:
        poll.schedule((pk,), eta=_eta(eta))
    due = deliveries_due(horizon=HORIZON)
    for pk, eta in due:
        deliver.schedule((pk,), eta=_eta(eta))
    return {"polls": len(claimed), "deliveries": len(due)}


@huey.periodic_task(crontab(minute="*"))
@_with_db
def tick() -> None:
    """Every minute, in every worker: the sweep."""
    sweep()


@huey.task()
@_with_db
def tick_now() -> None:
    sweep()


def deliveries_enqueue(ids: Iterable[int]) -> None:
    """Queues deliveries now (after the transaction that created them committed)."""
    for pk in ids:
        deliver(pk)


def queue_depth() -> dict[str, int] | None:
    """Messages waiting in the queue (ready and scheduled), or None when it cannot be read."""
    try:
        return {"pending": huey.pending_count(), "scheduled": huey.scheduled_count()}
    except Exception:
        return None
