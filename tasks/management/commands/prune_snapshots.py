"""Retention for task history. The newest snapshot of a task is never removed."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tasks.models import TaskSnapshot, TrackedTask


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
            with transaction.atomic():
                ordered = TaskSnapshot.objects.filter(task=tracked).order_by("-seq")
                protected = list(ordered.values_list("pk", flat=True)[: keep or 1])
                doomed = TaskSnapshot.objects.filter(task=tracked).exclude(pk__in=protected)
                if keep is None:
                    doomed = doomed.filter(last_seen__lt=cutoff)
                elif cutoff is not None:
                    # Both given: beyond the newest N, or older than D days (never the newest).
                    doomed = (
                        TaskSnapshot.objects.filter(task=tracked)
                        .exclude(pk=protected[0])
                        .exclude(pk__in=protected, last_seen__gte=cutoff)
                    )
                deleted += doomed.delete()[0]
        self.stdout.write(f"deleted {deleted} snapshot(s)")
