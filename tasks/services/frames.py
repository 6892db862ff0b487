"""A task's reference still (admins upload, members see): validated with Pillow before it is
decoded, re-encoded without metadata, stored through Django's default storage.

Limits (contract): at most 10 MiB and 8,192 px a side, JPEG or PNG as the bytes say (never the
name); decompression bombs refused. Whatever fails is `invalid_image` and nothing is stored.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from tasks.errors import PortalError
from tasks.models import CloudProject, TaskFrame, TrackedTask
from tasks.services.audit import audit_record
from tasks.services.task_fetch import task_cache_roi_refresh, task_fetch, validate_identifiers

MAX_BYTES = 10 * 1024 * 1024
MAX_SIDE = 8192
#: Formats accepted, by what Pillow recognises in the bytes.
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
JPEG_QUALITY = 90


class InvalidImage(PortalError):
    code = "invalid_image"


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int


def image_clean(data: bytes) -> CleanImage:
    """The image re-encoded without metadata, or InvalidImage saying what is wrong."""
    if len(data) > MAX_BYTES:
        raise InvalidImage(reason="too_large", params={"mib": MAX_BYTES // (1024 * 1024)})
    if not data:
        raise InvalidImage(reason="empty")
    too_big = InvalidImage(reason="declared_too_big", params={"max": MAX_SIDE})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Reads the header only: format and size are known before any pixel is decoded.
            image: Image.Image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise too_big from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InvalidImage() from None
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE:
        raise InvalidImage(
            reason="too_many_pixels", params={"w": width, "h": height, "max": MAX_SIDE}
        )
    if width < 1 or height < 1:
        raise InvalidImage(reason="no_pixels")
    content_type = FORMATS[str(image.format)]
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard: its warning becomes a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            image = ImageOps.exif_transpose(image)  # upright, as the camera meant it
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        raise InvalidImage(reason="damaged") from None
    return _encode(image, content_type)


def _encode(image: Image.Image, content_type: str) -> CleanImage:
    if content_type == "image/jpeg":
        mode = "L" if image.mode in ("L", "1") else "RGB"
    else:
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        mode = "RGBA" if transparent else ("L" if image.mode in ("L", "1") else "RGB")
    pixels = image.convert(mode)
    # A new image from the pixels alone: no EXIF, GPS, ICC profile, text chunks or comments.
    bare = Image.new(mode, pixels.size)
    bare.paste(pixels)
    out = io.BytesIO()
    if content_type == "image/jpeg":
        bare.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        bare.save(out, format="PNG", optimize=True)
    return CleanImage(
        data=out.getvalue(), content_type=content_type, width=bare.width, height=bare.height
    )


def frame_size(*, project: CloudProject, service: str, task_id: str) -> tuple[int, int] | None:
    """(width, height) of the task's reference still, or None."""
    row = (
        TrackedTask.objects.filter(project=project, service=service, task_id=task_id)
        .values_list("frame_width", "frame_height")
        .first()
    )
    return (int(row[0]), int(row[1])) if row and row[0] and row[1] else None


def frame_get(*, project: CloudProject, service: str, task_id: str) -> TaskFrame | None:
    validate_identifiers(service=service, task_id=task_id)
    return (
        TaskFrame.objects.filter(
            task__project=project, task__service=service, task__task_id=task_id
        )
        .select_related("task")
        .first()
    )


def _tracked(*, actor, project: CloudProject, service: str, task_id: str) -> TrackedTask:
    tracked = TrackedTask.objects.filter(project=project, service=service, task_id=task_id).first()
    if tracked is None:
        # Only a task that exists upstream gets a frame: fetch it once (it becomes tracked).
        task_fetch(project=project, service=service, task_id=task_id, actor=actor)
        tracked = TrackedTask.objects.get(project=project, service=service, task_id=task_id)
    return tracked


def frame_put(
    *, actor, project: CloudProject, service: str, task_id: str, data: bytes
) -> tuple[TaskFrame, bool]:
    """Stores (or replaces) the task's still. Returns (frame, whether it was new)."""
    validate_identifiers(service=service, task_id=task_id)
    clean = image_clean(data)  # before any write: a bad image leaves nothing behind
    tracked = _tracked(actor=actor, project=project, service=service, task_id=task_id)
    with transaction.atomic():
        # The task's row serialises two uploads of the same task.
        TrackedTask.objects.select_for_update().filter(pk=tracked.pk).values_list("pk").first()
        frame = TaskFrame.objects.filter(task=tracked).first()
        created = frame is None
        old_name = None if frame is None else frame.image.name
        if frame is None:
            frame = TaskFrame(task=tracked)
        frame.content_type = clean.content_type
        frame.width, frame.height, frame.size = clean.width, clean.height, len(clean.data)
        frame.uploaded_at = timezone.now()
        frame.uploaded_by = actor if getattr(actor, "is_authenticated", False) else None
        frame.uploaded_by_username = actor.get_username() if frame.uploaded_by else ""
        frame.image.save(f"frame.{frame.extension}", ContentFile(clean.data), save=False)
        new_name = frame.image.name
        storage = frame.image.storage
        # A failed transaction leaves no orphan file; a replaced file goes after the commit.
        try:
            frame.save()
        except Exception:
            storage.delete(new_name)
            raise
        TrackedTask.objects.filter(pk=tracked.pk).update(
            frame_width=clean.width, frame_height=clean.height
        )
        if old_name and old_name != new_name:
            transaction.on_commit(lambda: storage.delete(old_name))
        audit_record(
            actor=actor,
            project=project,
            action="task.frame_uploaded",
            service=service,
            task_id=task_id,
            width=clean.width,
            height=clean.height,
            bytes=len(clean.data),
            replaced=not created,
        )
        transaction.on_commit(
            lambda: task_cache_roi_refresh(project=project, service=service, task_id=task_id)
        )
    return frame, created


def frame_delete(*, actor, project: CloudProject, service: str, task_id: str) -> bool:
    """Deletes the task's still (the file after the commit). False when there was none."""
    validate_identifiers(service=service, task_id=task_id)
    with transaction.atomic():
        frame = (
            TaskFrame.objects.select_for_update()
            .filter(task__project=project, task__service=service, task__task_id=task_id)
            .first()
        )
        if frame is None:
            return False
        frame.delete()  # the file goes with it (tasks.signals), after the commit
        TrackedTask.objects.filter(pk=frame.task_id).update(frame_width=None, frame_height=None)
        audit_record(
            actor=actor,
            project=project,
            action="task.frame_deleted",
            service=service,
            task_id=task_id,
        )
        transaction.on_commit(
            lambda: task_cache_roi_refresh(project=project, service=service, task_id=task_id)
        )
    return True


def frame_info(frame: TaskFrame) -> dict[str, Any]:
    return {
        "width": frame.width,
        "height": frame.height,
        "uploaded_at": frame.uploaded_at,
        "uploaded_by": frame.uploaded_by_username or None,
    }
