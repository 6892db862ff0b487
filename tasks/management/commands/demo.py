"""Idempotent demo seed: a superuser, a project wired to the simulator, tasks with history."""

import copy
import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tasks.models import Channel, CloudProject, TrackedTask
from tasks.services.channels import channel_create
from tasks.services.projects import project_create
from tasks.services.snapshots import snapshot_record
from tasks.vas.parsing import redact_task
from vassim.simulator import (
    DEFAULT_AK,
    DEFAULT_PORT,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    SEED_TASK_ID,
    seed_tasks,
)

DEMO_USER = "admin"
DEMO_PROJECT = "Demo (simulator)"
# Tasks given a short history, and the states each went through (oldest first).
HISTORIES = {SEED_TASK_ID: ["PENDING", "STARTING", "RUNNING"]}
WATCHED_COUNT = 4


def demo_password() -> str:
    """Derived from SECRET_KEY: stable across runs (so the seed is idempotent and can print it),
    unguessable without the key, different on every installation."""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"vas-portal-demo-admin", hashlib.sha256)
    return "demo-" + digest.hexdigest()[:16]


class Command(BaseCommand):
    help = "Seed the demo (idempotent): user, a project wired to the simulator, tasks with history."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--simulator-url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="simulator base URL"
        )

    @transaction.atomic
    def handle(self, *args, simulator_url: str, **options) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = user_model.objects.create_superuser(DEMO_USER, "", demo_password())
        project = CloudProject.objects.filter(name=DEMO_PROJECT).first()
        if project is None:
            try:
                project = project_create(
                    actor=user,
                    fields={
                        "name": DEMO_PROJECT,
                        "description": "Wired to the built-in simulator (manage.py runsimulator).",
                        "region": "cn-north-4",
                        "upstream_project_id": DEFAULT_PROJECT_ID,
                        "endpoint": simulator_url,
                        "auth_type": "aksk",
                    },
                    secrets={"access_key": DEFAULT_AK, "secret_key": DEFAULT_SK},
                )
            except ValidationError as exc:
                raise CommandError(
                    f"could not create the demo project: {exc.message_dict}. Is the simulator's "
                    "host listed in PORTAL_UPSTREAM_ALLOWED_HOSTS?"
                ) from exc
        if not TrackedTask.objects.filter(project=project).exists():
            self._seed_history(project)
        if not Channel.objects.filter(project=project).exists():
            # The worker's notifications of the watched demo tasks, printed by the console email
            # backend of `make run`.
            channel_create(
                actor=user,
                project=project,
                fields={"name": "Console email", "kind": "email"},
                target="admin@example.com",
            )
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  log in as: {DEMO_USER} / {demo_password()}")
        self.stdout.write(f"  project:   {DEMO_PROJECT} → {project.endpoint}")

    def _seed_history(self, project: CloudProject) -> None:
        now = timezone.now()
        for index, (doc, _options) in enumerate(seed_tasks()):
            service = doc.get("service_name") or project.default_service
            payload = redact_task(doc)
            states = HISTORIES.get(doc["id"], [payload.get("state")])
            for step, state in enumerate(states):
                version = copy.deepcopy(payload)
                version["state"] = state
                snapshot_record(
                    project=project,
                    service=service,
                    task_id=doc["id"],
                    payload=version,
                    request_id=None,
                    now=now - timedelta(hours=len(states) - step, minutes=index),
                )
            if index < WATCHED_COUNT:
                TrackedTask.objects.filter(project=project, task_id=doc["id"]).update(watched=True)
