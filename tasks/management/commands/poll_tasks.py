"""One polling cycle now for every watched task (cron-friendly), through the worker's batched
path (tasks.services.polling), and a summary."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tasks.models import CloudProject
from tasks.services.polling import poll_all


class Command(BaseCommand):
    help = (
        "Refresh every watched task once from the upstream (one list call per 1,000 tasks of a "
        "service, one call per task missing from it); exit 1 only if every fetch failed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", help="only this project (its id, a UUID)")
        parser.add_argument(
            "--concurrency", type=int, default=4, help="services, and missing tasks, at once (1–32)"
        )

    def handle(self, *args, project=None, concurrency=4, **options) -> None:
        if not 1 <= concurrency <= 32:
            raise CommandError("--concurrency must be between 1 and 32")
        chosen = None
        if project:
            try:
                chosen = CloudProject.objects.get(public_id=project)
            except (CloudProject.DoesNotExist, ValidationError) as exc:
                raise CommandError(f"no project with id {project!r}") from exc
        watched, outcome = poll_all(project=chosen, concurrency=concurrency)
        for detail in outcome.errors:
            self.stderr.write(detail)
        self.stdout.write(
            f"polled {watched} watched task(s): {outcome.changed} changed, "
            f"{outcome.unchanged} unchanged, {outcome.failed} failed "
            f"({outcome.calls} upstream call(s))"
        )
        if watched and outcome.failed == watched:
            raise CommandError("every fetch failed")
