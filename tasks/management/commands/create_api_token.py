"""Prints a new API token for a user (shown once; the database keeps only its hash)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tasks.errors import PortalError, error_text
from tasks.services.tokens import MAX_EXPIRY_DAYS, token_create


class Command(BaseCommand):
    help = "Create an API token for USER and print it (it cannot be shown again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=30,
            help=f"Days until the token expires (1–{MAX_EXPIRY_DAYS}, default 30).",
        )
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(self, *args, **options) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user named {options['username']!r}.")
        days = options["expires_days"]
        if not 1 <= days <= MAX_EXPIRY_DAYS:
            raise CommandError(f"--expires-days must be between 1 and {MAX_EXPIRY_DAYS}.")
        try:
            instance, key = token_create(user=user, expires_days=days, name=options["name"])
        except PortalError as exc:
            raise CommandError(error_text(exc)) from None
        # The key alone on stdout (scripts capture it); the expiry on stderr.
        self.stdout.write(key)
        self.stderr.write(
            f"Expires {instance.expiry:%Y-%m-%d %H:%M} UTC. It will not be shown again."
        )
