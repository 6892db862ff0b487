"""``manage.py runsimulator``: serve the built-in VAS simulator until Ctrl-C."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PORT,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    SEED_TASK_ID,
    Simulator,
    serve_forever,
)


class Command(BaseCommand):
    help = "Serve the built-in VAS simulator (AK/SK and IAM password auth, seeded tasks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument("--ak", default=DEFAULT_AK)
        parser.add_argument("--sk", default=DEFAULT_SK)
        parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
        parser.add_argument("--delay-ms", type=int, default=0, help="added to every API answer")

    def handle(self, *args: Any, **options: Any) -> None:
        simulator = Simulator(
            ak=options["ak"],
            sk=options["sk"],
            project_id=options["project_id"],
            delay=options["delay_ms"] / 1000.0,
        )
        url = f"http://{options['host']}:{options['port']}"
        # Printing the SK is deliberate: these are throw-away local demo credentials.
        self.stdout.write(
            "VAS simulator\n"
            f"  endpoint     {url}   (IAM endpoint: the same URL)\n"
            f"  project id   {simulator.project_id}\n"
            f"  AK / SK      {simulator.ak} / {simulator.sk}\n"
            f"  IAM login    domain {DEFAULT_IAM_DOMAIN}, user {DEFAULT_IAM_USER}, "
            f"password {DEFAULT_IAM_PASSWORD}\n"
            f"  sample task  c-face-edge / {SEED_TASK_ID}\n"
            f"  control      {url}/_sim/counts  /_sim/faults  /_sim/advance  /_sim/reset\n"
            "Ctrl-C to stop."
        )
        self.stdout.flush()  # visible at once even when piped (make run, logs)
        try:
            serve_forever(simulator, options["host"], options["port"])
        except KeyboardInterrupt:
            self.stdout.write("Simulator stopped.")
