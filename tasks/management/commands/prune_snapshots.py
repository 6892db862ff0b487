"""Retention for task history. The newest snapshot of a task is never removed."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tasks.models import TrackedTask
from tasks.services.snapshots import snapshot_prune


class Command(BaseCommand):
    help = "Keep the newest N snapshots per task and/or drop those not seen for D days."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--keep", type=int, help="keep at most this many per task (≥ 1)")
        parser.add_argument("--older-than", type=int, dest="older_than", help="days")

    def handle(self, *args, keep=None, older_than=None, **options) -> None:
        if keep is None and older_than is None:
            raise CommandError("give --keep N and/or --older-than DAYS")
        if keep is not None and keep < 1:
            raise CommandError("--keep must be at least 1: the newest snapshot always stays")
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than must be 0 or more days")
        cutoff = timezone.now() - timedelta(days=older_than) if older_than is not None else None
        deleted = 0
        for tracked in TrackedTask.objects.filter(snapshots__isnull=False).distinct().iterator():
            deleted += snapshot_prune(tracked=tracked, keep=keep, cutoff=cutoff)
        self.stdout.write(f"deleted {deleted} snapshot(s)")
