"""Writing a task's ROI back upstream (admins), safely.

The update body is built from the *unredacted* task fetched just before, held in memory only:
every field is sent as the upstream showed it, with only `target_roi` replaced, so no secret (a
webhook header, a secret-looking service_config key) is ever overwritten with the mask. The same
fetch is recorded as a snapshot: when it is not the version the editor started from, nothing is
sent (409 `version_conflict`).
"""

from __future__ import annotations

import copy
from typing import Any

from django.utils.translation import gettext as _

from tasks.caching.locks import NamedLock
from tasks.errors import EditConflict, PortalError
from tasks.models import CloudProject
from tasks.roi_geometry import MESSAGES, describe, limits_for, shape_problems, target_roi_string
from tasks.services.audit import audit_record
from tasks.services.task_fetch import (
    TaskResult,
    task_cache_key,
    task_fetch,
    task_record_fetched,
    validate_identifiers,
)
from tasks.services.task_upstream import target_roi_path, update_fields, upstream_call
from tasks.vas.client import Fetched
from tasks.vas.errors import UpstreamInvalidResponse
from tasks.vas.parsing import REDACTED, redact_task

#: Longest an update (fetch + UpdateTask + refetch) may hold the task's edit lock.
EDIT_LOCK_SECONDS = 60


class InvalidRoi(PortalError):
    """The shapes would not work upstream; `extra["problems"]` says why, shape by shape (in the
    language active when it is raised: the API's request language)."""

    code = "invalid_roi"

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__()
        self.extra = {
            "problems": [
                {
                    "code": p["code"],
                    "shape": p["shape"],
                    "message": describe(_localized_kind(p), _(MESSAGES[p["code"]])),
                }
                for p in problems
            ]
        }


def kind_labels() -> dict[str, str]:
    return {"polygon": _("polygon"), "line": _("line")}


def _localized_kind(problem: dict[str, Any]) -> dict[str, Any]:
    kind = problem.get("params", {}).get("kind")
    if kind is None:
        return problem
    params = {**problem["params"], "kind": kind_labels().get(kind, kind)}
    return {**problem, "params": params}


class VersionConflict(PortalError):
    code = "version_conflict"
    #: Members the API adds to the error (the current snapshot id).
    extra: dict[str, Any]


def roi_frame_for(*, project: CloudProject, service: str, task_id: str) -> dict[str, Any] | None:
    """The real frame shapes are checked against: the reference still's size, when one is
    stored (else None: the largest assumed frame)."""
    from tasks.services.frames import frame_size

    size = frame_size(project=project, service=service, task_id=task_id)
    if size is None:
        return None
    return {"width": size[0], "height": size[1], "assumed": False, "source": "frame"}


def roi_problems(
    *, project: CloudProject, service: str, task_id: str, shapes: Any
) -> list[dict[str, Any]]:
    frame = roi_frame_for(project=project, service=service, task_id=task_id)
    return shape_problems(shapes, frame=frame, limits=limits_for(service))


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def update_body(*, service: str, raw: dict[str, Any], target_roi: str) -> dict[str, Any]:
    """The UpdateTask body: the updatable fields exactly as the upstream showed them (unredacted),
    with `target_roi` replaced. Nothing else changes."""
    body = {
        key: copy.deepcopy(raw[key]) for key in update_fields(service) if raw.get(key) is not None
    }
    output = body.get("output")
    if isinstance(output, dict) and isinstance(output.get("hosting"), dict):
        # The display form adds where results were put; the request form names categories only.
        hosting = output["hosting"]
        output["hosting"] = {k: v for k, v in hosting.items() if k == "data_category"}
    *parents, leaf = target_roi_path(service)
    node = body
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[leaf] = target_roi
    if _has_mask(body):
        # The upstream itself answered with masked values: sending them back would overwrite
        # the real ones. Refuse rather than guess.
        raise UpstreamInvalidResponse("masked_secret")
    return body


def _has_mask(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_mask(v) for v in value)
    return value == REDACTED


def task_roi_update(
    *,
    actor,
    project: CloudProject,
    service: str,
    task_id: str,
    shapes: Any,
    expected_snapshot_id: int,
) -> TaskResult:
    """Validates the shapes, refetches the task and, when it is still the version the editor
    started from, sends UpdateTask with only `target_roi` changed. Returns the refetched task.

    InvalidRoi (400), VersionConflict (409: the task changed upstream), EditConflict (409:
    another update of this task is in flight), or the upstream's error.
    """
    validate_identifiers(service=service, task_id=task_id)
    problems = roi_problems(project=project, service=service, task_id=task_id, shapes=shapes)
    if problems:
        raise InvalidRoi(problems)
    # One update of a task at a time: two editors racing both see the same version, and the
    # second must see the first one's result, not overwrite it.
    lock = NamedLock(f"roi-update:{task_cache_key(project, service, task_id)}", timeout=60)
    if not lock.acquire():
        raise EditConflict(reason="roi_in_progress")
    try:
        shown = upstream_call(
            project=project,
            service=service,
            task_id=task_id,
            action="show_unredacted",
            actor=actor,
        )
        assert isinstance(shown, Fetched)
        raw = shown.payload  # secrets included: in memory only, never stored or shown
        current = task_record_fetched(
            project=project,
            service=service,
            task_id=task_id,
            fetched=Fetched(payload=redact_task(raw), request_id=shown.request_id),
        )
        if current.meta["snapshot_id"] != expected_snapshot_id:
            error = VersionConflict(params={"current": current.meta["snapshot_id"]})
            error.extra = {"current_snapshot_id": current.meta["snapshot_id"]}
            raise error
        before = current.roi.get("shapes", [])
        target_roi = target_roi_string(shapes)
        body = update_body(service=service, raw=raw, target_roi=target_roi)
        del raw
        updated = upstream_call(
            project=project,
            service=service,
            task_id=task_id,
            action="update",
            body=body,
            actor=actor,
        )
        del body
        audit_record(
            actor=actor,
            project=project,
            action="task.roi_updated",
            service=service,
            task_id=task_id,
            from_snapshot_id=expected_snapshot_id,
            before={"shapes": before},
            after={"shapes": shapes, "target_roi": target_roi},
            upstream_request_id=getattr(updated, "request_id", None),
        )
        # The version the update made, through the one fetch path (snapshot, cache, events).
        return task_fetch(project=project, service=service, task_id=task_id, refresh=True)
    finally:
        lock.release()
