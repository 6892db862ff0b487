"""Re-encrypts every stored secret with the newest key of PORTAL_CREDENTIALS_KEYS."""

from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from tasks import crypto
from tasks.models import Channel, CloudProject


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the newest PORTAL_CREDENTIALS_KEYS key, then report "
        "how many rows still use each older key (drop a key only when its count is 0)."
    )

    def handle(self, *args, **options) -> None:
        rotated, unreadable = 0, []
        for project in CloudProject.objects.order_by("pk").iterator():
            with transaction.atomic():
                project = CloudProject.objects.select_for_update().get(pk=project.pk)
                changed = []
                for field in CloudProject.SECRET_FIELDS:
                    token = getattr(project, f"{field}_enc")
                    if not token:
                        continue
                    try:
                        setattr(project, f"{field}_enc", crypto.rotate(token))
                    except crypto.InvalidToken:
                        unreadable.append(project.name)
                        break
                    changed.append(f"{field}_enc")
                else:
                    if changed:
                        project.save(update_fields=changed)
                        rotated += 1
        channels, unreadable_channels = self._rotate_channels()
        usage = self._key_usage()
        self.stdout.write(f"re-encrypted the secrets of {rotated} project(s) with key #1 (newest)")
        self.stdout.write(f"re-encrypted the targets of {channels} channel(s) with key #1")
        if unreadable_channels:
            self.stderr.write(
                "could not decrypt the targets of channel(s): "
                + ", ".join(sorted(unreadable_channels))
                + ". Enter their targets again."
            )
        for index in range(len(settings.PORTAL_CREDENTIALS_KEYS)):
            age = "newest" if index == 0 else "older"
            self.stdout.write(f"projects using key #{index + 1} ({age}): {usage.get(index, 0)}")
        if usage.get(None):
            self.stdout.write(f"projects no configured key can open: {usage[None]}")
        if unreadable:
            names = ", ".join(sorted(set(unreadable)))
            self.stderr.write(
                f"could not decrypt the credentials of: {names}. Their credentials must be entered "
                "again (or the old key put back in PORTAL_CREDENTIALS_KEYS)."
            )

    @staticmethod
    def _rotate_channels() -> tuple[int, list[str]]:
        """Channel targets (and webhook headers) are secrets too."""
        rotated, unreadable = 0, []
        for pk in Channel.objects.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                channel = Channel.objects.select_for_update().get(pk=pk)
                try:
                    channel.target_enc = crypto.rotate(channel.target_enc)
                    if channel.headers_enc:
                        channel.headers_enc = crypto.rotate(channel.headers_enc)
                except crypto.InvalidToken:
                    unreadable.append(f"{channel.name} ({channel.project_id})")
                    continue
                channel.save(update_fields=["target_enc", "headers_enc"])
                rotated += 1
        return rotated, unreadable

    @staticmethod
    def _key_usage() -> Counter:
        usage: Counter = Counter()
        for project in CloudProject.objects.iterator():
            indexes = {
                crypto.key_index(getattr(project, f"{field}_enc"))
                for field in CloudProject.SECRET_FIELDS
                if getattr(project, f"{field}_enc")
            }
            for index in indexes:
                usage[index] += 1
        return usage
