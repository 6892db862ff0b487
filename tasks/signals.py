"""Files that must go when their rows go, however the rows are deleted (a project's cascade too)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete


def _delete_frame_file(sender: Any, instance: Any, **kwargs: Any) -> None:
    name = instance.image.name
    storage = instance.image.storage
    if name:
        # After the commit: a rolled-back delete keeps its file.
        transaction.on_commit(lambda: storage.delete(name))


def connect() -> None:
    from tasks.models import TaskFrame

    post_delete.connect(_delete_frame_file, sender=TaskFrame, dispatch_uid="task_frame_file")
