"""Polling VIAS watched tasks through the VIAS list (the monitor's poller calls this for the
service key "vias", `tasks.services.polling.poll_lister`).

The VIAS list pages by number, up to 1,000 a page, and `count` is the number of items on the page,
so the list ends at the first short page (VAS-API.md §10). Its items are summaries (id, name,
state, camera, algorithm …), not whole documents, so:

- a listed item that is a whole document (it carries `config` or `input`) is recorded as it is;
- a summary whose state is the state of the task's newest stored version re-sights that version
  (the task was seen; nothing the list shows changed);
- a summary whose state moved, and a watched task the list did not return, are left to the poller,
  which fetches each alone (ShowTaskInfo): the new version and its events, or `task_gone` on 404.

Upstream calls per cycle: ⌈watched / 1,000⌉ pages (fewer when the list is short) plus one per
task that changed state or is missing. A change of a VIAS task's configuration without a change of
state is seen by the next fetch of the task itself (a page view, the API), not by the list.
"""

from __future__ import annotations

from typing import Any

from tasks.models import CloudProject, TaskSnapshot, TrackedTask
from tasks.services.polling import (
    FALLBACK_PAGE_SIZE,
    PAGE_SIZE,
    Listed,
    budget_take,
    poll_lister_register,
)
from tasks.upstream import vias_client_for
from tasks.vas import VIAS_SERVICE
from tasks.vas import errors as vas_errors
from tasks.vas.vias import FIRST_PAGE, MAX_PAGES

#: Keys only a whole task document has (a list summary has neither).
DOCUMENT_KEYS = ("config", "input")


def _newest_versions(project: CloudProject, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The newest stored version of each wanted VIAS task: task id -> payload."""
    newest: dict[str, dict[str, Any]] = {}
    tracked = TrackedTask.objects.filter(
        project=project, service=VIAS_SERVICE, task_id__in=wanted
    ).values_list("pk", "task_id")
    by_pk = dict(tracked)
    rows = (
        TaskSnapshot.objects.filter(task_id__in=by_pk)
        .order_by("task_id", "-seq")
        .values_list("task_id", "payload")
    )
    for task_pk, payload in rows:
        newest.setdefault(by_pk[task_pk], payload)
    return newest


def vias_list_watched(*, project: CloudProject, service: str, wanted: set[str]) -> Listed:
    """Pages through the VIAS task list until every wanted id is found or a page is short."""
    client = vias_client_for(project)
    listed = Listed()
    seen: dict[str, tuple[dict[str, Any], str | None]] = {}
    page_size, page = PAGE_SIZE, FIRST_PAGE
    for _ in range(MAX_PAGES):
        budget_take(project)
        try:
            current = client.list_tasks(page=page, page_size=page_size)
        except vas_errors.UpstreamBadRequest:
            listed.calls += 1
            if page_size == PAGE_SIZE and page == FIRST_PAGE:
                page_size = FALLBACK_PAGE_SIZE  # an upstream that refuses 1,000 a page
                continue
            raise
        listed.calls += 1
        for item in current.tasks:
            task_id = item.get("id")
            if isinstance(task_id, str) and task_id in wanted:
                seen[task_id] = (item, current.request_id)
        if current.is_last or wanted <= seen.keys():
            break
        page += 1
    newest = _newest_versions(project, set(seen))
    for task_id, (item, request_id) in seen.items():
        if any(key in item for key in DOCUMENT_KEYS):
            listed.documents[task_id] = (item, request_id)
            continue
        stored = newest.get(task_id)
        if stored is not None and stored.get("state") == item.get("state"):
            listed.documents[task_id] = (stored, request_id)
        # else: its state moved (or nothing is stored): the poller fetches it alone.
    return listed


poll_lister_register(VIAS_SERVICE, vias_list_watched)
