"""Refreshes every watched task once (cron-friendly) and prints a summary."""

import queue
import threading

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from tasks.errors import PortalError, error_text
from tasks.models import CloudProject, TrackedTask
from tasks.services.task_fetch import task_fetch
from tasks.vas.errors import VasError


def _poll_one(tracked: TrackedTask) -> tuple[str, str]:
    """("changed"|"unchanged"|"failed", detail) for one watched task."""
    try:
        result = task_fetch(
            project=tracked.project, service=tracked.service, task_id=tracked.task_id, refresh=True
        )
    except (VasError, PortalError) as exc:
        return "failed", f"{tracked.service}/{tracked.task_id}: {exc.code}: {error_text(exc)}"
    if result.meta["source"] != "upstream":
        error = result.meta["error"] or {}
        return (
            "failed",
            f"{tracked.service}/{tracked.task_id}: {error.get('code')} (stale copy kept)",
        )
    return ("changed" if result.changed else "unchanged"), ""


class Command(BaseCommand):
    help = "Refresh every watched task once from the upstream; exit 1 only if every fetch failed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", help="only this project (its id, a UUID)")
        parser.add_argument("--concurrency", type=int, default=4, help="parallel fetches (1–32)")

    def handle(self, *args, project=None, concurrency=4, **options) -> None:
        if not 1 <= concurrency <= 32:
            raise CommandError("--concurrency must be between 1 and 32")
        watched = TrackedTask.objects.filter(watched=True).select_related("project")
        if project:
            try:
                watched = watched.filter(project=CloudProject.objects.get(public_id=project))
            except (CloudProject.DoesNotExist, ValidationError) as exc:
                raise CommandError(f"no project with id {project!r}") from exc
        outcomes = _run(list(watched.order_by("pk")), concurrency)
        counts = {
            kind: sum(1 for k, _ in outcomes if k == kind)
            for kind in ("changed", "unchanged", "failed")
        }
        for kind, detail in outcomes:
            if kind == "failed":
                self.stderr.write(detail)
        self.stdout.write(
            f"polled {len(watched)} watched task(s): {counts['changed']} changed, "
            f"{counts['unchanged']} unchanged, {counts['failed']} failed"
        )
        if watched and counts["failed"] == len(watched):
            raise CommandError("every fetch failed")


def _run(watched: list[TrackedTask], concurrency: int) -> list[tuple[str, str]]:
    """Polls with `concurrency` threads; each keeps its database connection for all its tasks
    and closes it when the queue is empty."""
    todo: queue.Queue[tuple[int, TrackedTask]] = queue.Queue()
    for item in enumerate(watched):
        todo.put(item)
    outcomes: list[tuple[str, str]] = [("failed", "not polled")] * len(watched)

    def worker() -> None:
        try:
            while True:
                try:
                    index, tracked = todo.get_nowait()
                except queue.Empty:
                    return
                outcomes[index] = _poll_one(tracked)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, len(watched)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
