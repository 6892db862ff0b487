"""Prometheus metrics for the projects a user can see, through prometheus-client's exposition.

A registry is built per scrape from the database (a custom collector): nothing is kept in
process memory, so every portal process answers the same, however many run.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from tasks.models import Notification, NotificationStatus, PollSchedule, TrackedTask
from tasks.selectors import project_list

UP_STATES = ("RUNNING", "SUCCEEDED")


class _PortalCollector:
    def __init__(self, user) -> None:
        self.user = user

    def collect(self) -> Iterator[Metric]:
        projects = {p.pk: p for p in project_list(user=self.user).only("pk", "public_id", "name")}
        ids = list(projects)
        labels = ["project", "service", "task_id", "task_name", "state"]
        up = GaugeMetricFamily(
            "vasportal_task_up", "1 when the task is RUNNING or SUCCEEDED, else 0.", labels=labels
        )
        fetched = GaugeMetricFamily(
            "vasportal_task_last_fetched_timestamp_seconds",
            "When the portal last fetched the task (Unix time).",
            labels=labels,
        )
        watched = GaugeMetricFamily(
            "vasportal_task_watched", "1 when the task is watched.", labels=labels
        )
        for task in (
            TrackedTask.objects.filter(project_id__in=ids)
            .only("project_id", "service", "task_id", "name", "state", "last_fetched", "watched")
            .order_by("project_id", "service", "task_id")
            .iterator(chunk_size=2000)
        ):
            values = [
                projects[task.project_id].name,
                task.service,
                task.task_id,
                task.name,
                task.state,
            ]
            up.add_metric(values, 1.0 if task.state in UP_STATES else 0.0)
            fetched.add_metric(values, task.last_fetched.timestamp())
            watched.add_metric(values, 1.0 if task.watched else 0.0)
        yield from (up, fetched, watched)

        failing = GaugeMetricFamily(
            "vasportal_project_upstream_failing",
            "1 when every poll of the project's services is failing.",
            labels=["project"],
        )
        last_poll = GaugeMetricFamily(
            "vasportal_project_last_successful_poll_timestamp_seconds",
            "When a poll of the project last succeeded (Unix time).",
            labels=["project"],
        )
        lag = GaugeMetricFamily(
            "vasportal_poll_lag_seconds",
            "How far the most overdue poll of the project is behind its schedule (0: on time).",
            labels=["project"],
        )
        now = timezone.now()
        schedules = (
            PollSchedule.objects.filter(project_id__in=ids)
            .values("project_id")
            .annotate(
                total=Count("pk"),
                failing=Count("pk", filter=Q(failing_since__isnull=False)),
                last_success=Max("last_success_at"),
                due=Min("next_poll_at"),
            )
        )
        by_project = {row["project_id"]: row for row in schedules}
        for pk, project in projects.items():
            row = by_project.get(pk)
            is_failing = bool(row and row["total"] and row["failing"] == row["total"])
            failing.add_metric([project.name], 1.0 if is_failing else 0.0)
            if row and row["last_success"]:
                last_poll.add_metric([project.name], row["last_success"].timestamp())
            if row and row["due"]:
                lag.add_metric([project.name], max(0.0, (now - row["due"]).total_seconds()))
        yield from (failing, last_poll, lag)

        notifications = GaugeMetricFamily(
            "vasportal_notifications_total",
            "Notifications by project and delivery status.",
            labels=["project", "status"],
        )
        counts = {
            (row["event__project_id"], row["status"]): row["n"]
            for row in Notification.objects.filter(event__project_id__in=ids)
            .values("event__project_id", "status")
            .annotate(n=Count("pk"))
        }
        for pk, project in projects.items():
            for status in NotificationStatus.values:
                notifications.add_metric([project.name, status], counts.get((pk, status), 0))
        yield notifications

        from tasks.worker import queue_depth

        depth = queue_depth()
        if depth is not None:
            queue = GaugeMetricFamily(
                "vasportal_worker_queue_messages",
                "Messages waiting in the worker's queue (ready or scheduled).",
                labels=["kind"],
            )
            for kind, value in depth.items():
                queue.add_metric([kind], value)
            yield queue


def metrics_render(*, user) -> tuple[bytes, str]:
    """(the exposition text, its content type) for what `user` may see."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_PortalCollector(user))
    return generate_latest(registry), CONTENT_TYPE_LATEST
