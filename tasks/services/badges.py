"""Status badges: a project's and a task's state word as SVG or JSON, for a wiki or a wall screen.

Reached without a login through the project's unguessable `badge_key`; they show the state word
and nothing else (no name, id or data). A task's badge is addressed by a token, not by its id:
the task's "service/task id" encrypted with AES-SIV (deterministic, authenticated) under a key
derived by HKDF from the portal's SECRET_KEY and the project's badge key. So the URL carries no
readable task id, nobody can forge a token for another task, and rotating the project's key
retires every badge URL of the project at once, with nothing stored per task.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q

from tasks.models import CloudProject, TrackedTask, new_badge_key
from tasks.services.audit import audit_record
from tasks.services.health import PROBLEM_STATES, UP_STATES

#: Project badge words (codes; the SVG shows them translated).
PROJECT_UP, PROJECT_PROBLEM, PROJECT_MIXED, PROJECT_NONE = "up", "problem", "mixed", "none"


def _cipher(project: CloudProject) -> AESSIV:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=project.badge_key.encode(),
        info=b"vasportal task badge v1",
    ).derive(settings.SECRET_KEY.encode())
    return AESSIV(key)


def task_badge_token(*, project: CloudProject, service: str, task_id: str) -> str:
    sealed = _cipher(project).encrypt(f"{service}/{task_id}".encode(), None)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def task_badge_resolve(*, project: CloudProject, token: str) -> tuple[str, str] | None:
    """(service, task id) of a token made under this project's current key, else None."""
    if not token or len(token) > 400:
        return None
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        service, _sep, task_id = _cipher(project).decrypt(sealed, None).decode().partition("/")
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return (service, task_id) if task_id else None


def project_for_badge_key(key: str) -> CloudProject | None:
    if not key or len(key) > 64:
        return None
    return CloudProject.objects.filter(badge_key=key).only("pk", "badge_key").first()


def _upstream_failing(project: CloudProject) -> bool:
    """Whether the worker finds the project's upstream failing (the monitor's PollSchedule)."""
    try:
        schedule = apps.get_model("tasks", "PollSchedule")
    except LookupError:
        return False
    return schedule.objects.filter(project=project, failing_since__isnull=False).exists()


def project_badge_state(*, project: CloudProject) -> str:
    """`problem` when a watched task is in a problem state or gone, or the upstream is failing;
    `up` when every watched task is RUNNING or SUCCEEDED, `mixed` otherwise, `none` without
    watched tasks."""
    counts = TrackedTask.objects.filter(project=project, watched=True).aggregate(
        total=Count("pk"),
        up=Count("pk", filter=Q(state__in=UP_STATES, gone_at__isnull=True)),
        problem=Count("pk", filter=Q(state__in=PROBLEM_STATES) | Q(gone_at__isnull=False)),
    )
    if not counts["total"]:
        return PROJECT_NONE
    if counts["problem"] or _upstream_failing(project):
        return PROJECT_PROBLEM
    return PROJECT_UP if counts["up"] == counts["total"] else PROJECT_MIXED


def task_badge_state(*, project: CloudProject, service: str, task_id: str) -> str | None:
    row = (
        TrackedTask.objects.filter(project=project, service=service, task_id=task_id)
        .values_list("state", "gone_at")
        .first()
    )
    if row is None:
        return None
    state, gone_at = row
    return "GONE" if gone_at else (state or "UNKNOWN")


@transaction.atomic
def badge_key_rotate(*, actor, project: CloudProject) -> CloudProject:
    """A new badge key: every badge URL of the project stops working."""
    project.badge_key = new_badge_key()
    project.save(update_fields=["badge_key", "updated_at"])
    audit_record(actor=actor, project=project, action="project.badge_key_rotated")
    return project
