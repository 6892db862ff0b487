"""The long-running worker: polls due watched tasks, records events, delivers notifications."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Run the monitor's worker (a Huey consumer on PORTAL_WORKER_URL). Several may run on "
        "several machines against one database and queue."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.PORTAL_WORKER_THREADS,
            help="worker threads (1–64; default PORTAL_WORKER_THREADS)",
        )

    def handle(self, *args, threads: int, **options) -> None:
        if not 1 <= threads <= 64:
            raise CommandError("--threads must be between 1 and 64")
        from tasks.worker import huey, tick_now

        tick_now()  # a sweep at start-up, not only at the next minute
        consumer = huey.create_consumer(
            workers=threads,
            worker_type="thread",
            periodic=True,
            check_worker_health=True,
            # An idle thread looks for work at least every second (Huey's default backs off to
            # 10 s), so a poll due at 12:00:30 starts by 12:00:31.
            max_delay=1.0,
        )
        self.stdout.write(f"worker: {threads} thread(s) on {type(huey).__name__}")
        consumer.run()
