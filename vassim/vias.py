"""The VIAS half of the simulator (VAS-API.md §10): tasks, list, start/stop, update.

VIAS sits behind the same gateway as VAS, so the signature check, faults and counts are the
simulator's own; this module only knows the VIAS paths and documents. Seed tasks come from the
data file ``seed/vias_tasks.json``. Tasks are kept in the simulator's table under the service key
``"vias"``.

Fault keys: a VIAS task id, ``"vias-list"`` for the VIAS task list, ``"*"`` for every call.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from tasks.vas.vias import VIAS_STATES

if TYPE_CHECKING:
    from vassim.simulator import Simulator

SERVICE = "vias"
LIST_FAULT_KEY = "vias-list"
SEED_FILE = Path(__file__).with_name("seed") / "vias_tasks.json"
#: Pages are numbered from 1 here (the docs leave it open; the client starts at 1).
FIRST_PAGE = 1

VIAS_PATH = re.compile(
    r"^/v2/(?P<project>[^/]+)/tasks(?:/(?P<task>[^/]+)(?:/action/(?P<action>[^/]+))?)?/?$"
)
_TASK_ID = re.compile(r"^[0-9a-f]{32}$|^task\w{8}$")
#: The fields of a ListTasks item (TaskInfo.java): the list gives summaries, not documents.
LIST_FIELDS = (
    "id",
    "name",
    "service_id",
    "created_at",
    "state",
    "video_source_name",
    "title",
    "algorithm_publish_id",
)
#: Top-level keys an update may replace (UpdateTasksRequestBody).
UPDATABLE = ("name", "description", "schedule", "input", "output", "config")
#: From which states start and stop make sense; elsewhere the simulator answers 400.
STARTABLE = frozenset(
    {"STOPPED", "START_FAILED", "CREATE_FAILED", "FAILED", "ABNORMAL", "SUCCEEDED"}
)
STOPPABLE = frozenset(
    {"RUNNING", "SCHEDULING", "LACK_OF_RESOURCES", "PENDING", "STARTING", "ABNORMAL", "RECOVERING"}
)


@cache
def _seed_text() -> str:
    return SEED_FILE.read_text(encoding="utf-8")


def seed_tasks() -> list[dict[str, Any]]:
    """The seeded VIAS tasks: ``[{"doc": {...}, "lifecycle": [...], ...}]`` (fresh copies)."""
    return json.loads(_seed_text())["tasks"]


def seeded_ids() -> dict[str, str]:
    """Seed task ids by task name (handy in tests)."""
    return {entry["doc"]["name"]: entry["doc"]["id"] for entry in seed_tasks()}


def vias_error(
    code: str, msg: str, *, detail: str = "", reason: str = "", advice: str = ""
) -> dict[str, Any]:
    """The VIAS error body: VAS' two keys plus ``detail``, ``params``, ``reason``, ``advice``."""
    return {
        "error_code": code,
        "error_msg": msg,
        "detail": detail or msg,
        "params": [],
        "reason": reason,
        "advice": advice,
    }


def list_item(doc: dict[str, Any]) -> dict[str, Any]:
    """A task as the VIAS list shows it; ``type`` in the list's own spelling (0 cloud, 1 edge)."""
    item = {key: copy.deepcopy(doc[key]) for key in LIST_FIELDS if key in doc}
    kind = doc.get("type")
    if kind is not None:
        item["type"] = {"cloud": "0", "edge": "1"}.get(str(kind), str(kind))
    return item


def handle(
    sim: Simulator,
    method: str,
    match: re.Match[str],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> list[bytes]:
    """Answer one authenticated VIAS request."""
    from vassim.simulator import _empty, _iso, _json, _read_body

    project, task_id, action = match.group("project"), match.group("task"), match.group("action")
    if project != sim.project_id:
        return _json(start_response, 400, vias_error("VIAS.0002", "Project id is invalid."))
    if task_id is None:
        if method != "GET":
            return _json(start_response, 405, vias_error("VIAS.0004", "Method not allowed."))
        return _list(sim, environ, start_response)
    if not _TASK_ID.match(task_id):
        return _json(
            start_response,
            400,
            vias_error(
                "VIAS.0004",
                f"The request param is invalid. parameter [task_id]: {task_id}",
                reason="The task id does not match the expected pattern.",
                advice="Copy the task id again from the VIAS console.",
            ),
        )
    with sim._lock:
        task = sim.tasks.get((SERVICE, task_id))
        if task is None:
            return _json(
                start_response,
                404,
                vias_error(
                    "VIAS.0005",
                    f"The requested resource is NOT found. Task {task_id}.",
                    reason="No task with this id exists in the project.",
                    advice="Check the task id and the project.",
                ),
            )
        sim._tick(task)
        state = str(task.doc.get("state"))
        if method == "GET" and action is None:
            doc = copy.deepcopy(task.doc)
            if task.advance_on_fetch:
                sim._step((SERVICE, task_id), task)
            return _json(start_response, 200, doc)
        if method == "PUT" and action in ("start", "stop"):
            allowed = STARTABLE if action == "start" else STOPPABLE
            if state not in allowed:
                return _json(
                    start_response,
                    400,
                    vias_error(
                        "VIAS.0100",
                        f"The task cannot be {action}ed in state {state}.",
                        reason=f"The task is {state}.",
                        advice="Refresh the task and try again when its state allows it.",
                    ),
                )
            if action == "start":
                task.lifecycle, task.step = ["STARTING", "RUNNING"], 0
            else:
                task.lifecycle, task.step = ["STOPPING", "STOPPED"], 0
            task.advance_on_fetch = True
            task.doc["state"] = task.lifecycle[0]
            task.doc["updated_at"] = _iso(sim.clock())
            return _empty(start_response, 200)
        if method == "PUT" and action is None:
            return _update(sim, task, environ, start_response, _read_body(environ))
        if method == "DELETE" and action is None:
            task.lifecycle, task.step = ["DELETING"], 0
            task.delete_after_step = True
            task.advance_on_fetch = True
            task.doc["state"] = "DELETING"
            return _json(start_response, 200, {})
    return _json(start_response, 405, vias_error("VIAS.0004", "Method not allowed."))


def _update(
    sim: Simulator,
    task: Any,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    raw: bytes,
) -> list[bytes]:
    from vassim.simulator import _iso, _json

    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _json(
            start_response,
            400,
            vias_error("VIAS.0003", "Request body is not a valid json object."),
        )
    unknown = sorted(set(body) - set(UPDATABLE))
    if unknown:
        return _json(
            start_response,
            400,
            vias_error(
                "VIAS.0004",
                f"The request param is invalid. Unknown fields {unknown}.",
                reason="Only name, description, schedule, input, output and config can change.",
            ),
        )
    for key in UPDATABLE:
        if key in body:
            task.doc[key] = copy.deepcopy(body[key])
    task.doc["updated_at"] = _iso(sim.clock())
    sim.updates.append(
        {"task_id": task.doc.get("id"), "body": copy.deepcopy(body), "service": SERVICE}
    )
    return _json(start_response, 200, {})


def _list(
    sim: Simulator, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    from vassim.simulator import _json

    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    state = query.get("task_state")
    if state is not None and state not in VIAS_STATES:
        return _json(
            start_response,
            400,
            vias_error(
                "VIAS.0004",
                f"The request param is invalid. The param [task_state] should be one of "
                f"[{', '.join(VIAS_STATES)}].",
            ),
        )
    try:
        page = int(query.get("page", str(FIRST_PAGE)))
        size = int(query.get("page_size", "10"))
    except ValueError:
        return _json(start_response, 400, vias_error("VIAS.0004", "The request param is invalid."))
    if page < FIRST_PAGE or not 5 <= size <= 1000:
        return _json(
            start_response,
            400,
            vias_error(
                "VIAS.0004",
                "The request param is invalid. page/page_size out of range.",
                reason="page_size must be 5–1000.",
                advice="Ask for a page size between 5 and 1000.",
            ),
        )
    with sim._lock:
        docs = []
        for (service, _task_id), task in sim.tasks.items():
            if service != SERVICE:
                continue
            sim._tick(task)
            docs.append(copy.deepcopy(task.doc))
    filters = (
        ("task_state", "state", False),
        ("task_name", "name", True),
        ("camera_name", "video_source_name", True),
        ("title", "title", True),
        ("company", "company", True),
        ("alg_id", "algorithm_publish_id", False),
    )
    for param, key, fuzzy in filters:
        wanted = query.get(param)
        if wanted:
            docs = [
                d
                for d in docs
                if (wanted in str(d.get(key, "")) if fuzzy else d.get(key) == wanted)
            ]
    reverse = query.get("sort_dir", "desc").lower() != "asc"
    docs.sort(key=lambda d: (str(d.get("created_at") or ""), str(d.get("id"))), reverse=reverse)
    start = (page - FIRST_PAGE) * size
    items = [list_item(d) for d in docs[start : start + size]]
    # count: the items on this page (the docs' wording), not a total.
    return _json(
        start_response, 200, {"count": len(items), "tasks": items, "page": page, "page_size": size}
    )
