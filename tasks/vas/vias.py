"""The VIAS task API (VAS-API.md §10), built on the VAS client's transport. Knows nothing of Django.

VIAS sits behind the same API gateway as VAS: the same signing, retries, deadline, size caps, SSRF
guard and typed errors apply, so every call goes through a ``VasClient`` pointed at the project's
VIAS endpoint (its ``_call``: the shared ``Transport``, the auth, the typed errors). Only the
paths, the list's paging and the document differ:

- show ``GET /v2/{project_id}/tasks/{task_id}``; list ``GET /v2/{project_id}/tasks`` paged with
  ``page``/``page_size`` (5–1,000) where ``count`` is the number of items on *this* page, so the
  end of the list is the first short page;
- start/stop ``PUT …/tasks/{task_id}/action/start|stop`` (200); update ``PUT …/tasks/{task_id}``;
- the error body adds ``detail``, ``reason`` and ``advice`` (kept in the typed error).

Where the documentation disagrees with itself (``restful``/``edgerestful``, ``type`` ``cloud``/
``edge`` or ``0``/``1``) both readings are accepted; unknown states and keys are kept as they came.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .client import MAX_LIST_BODY_BYTES, CheckResult, Fetched, VasClient
from .errors import TaskNotFound, UpstreamBadRequest, UpstreamInvalidResponse, VasError
from .parsing import STATES, TaskView, _dict, _str, gettext_noop, redact_task
from .transport import Answer

#: VIAS states: the VAS fifteen plus SCHEDULING (ShowTaskInfo) and LACK_OF_RESOURCES (the list
#: filter). state -> (family, meaning, 中文名), like ``parsing.STATES``.
VIAS_STATES: dict[str, tuple[str, str, str]] = {
    **STATES,
    "SCHEDULING": (
        "transitional",
        gettext_noop("Scheduling: waiting for its next weekly time window."),
        "调度中",
    ),
    "LACK_OF_RESOURCES": (
        "failed",
        gettext_noop("Not enough computing resources to run the task."),
        "资源不足",
    ),
}

MIN_PAGE_SIZE = 5
MAX_PAGE_SIZE = 1000
#: The docs call ``page`` an offset without saying where it starts (VAS-API.md §10). Starting at
#: 1 is the safe reading: on a 0-based server the first page is skipped, and a watched task that
#: was on it is then fetched alone (correct, one call more); 0 on a 1-based server may be refused.
FIRST_PAGE = 1
#: ``iter_tasks`` stops after this many pages whatever the upstream says (a server that never
#: answers a short page must not hold a poller forever).
MAX_PAGES = 1000

_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Known ``config.common`` keys beyond the VAS ones (``parsing.SERVICE_CONFIG_KEYS`` covers the
#: shared algorithm parameters; VIAS publishers define their own).
TASK_TYPES = {"0": "cloud", "1": "edge", "cloud": "cloud", "edge": "edge"}
INPUT_TYPES = {"restful": "edgerestful", "edgerestful": "edgerestful"}
DAY_NAMES = (
    gettext_noop("Monday"),
    gettext_noop("Tuesday"),
    gettext_noop("Wednesday"),
    gettext_noop("Thursday"),
    gettext_noop("Friday"),
    gettext_noop("Saturday"),
    gettext_noop("Sunday"),
)


def task_type(value: Any) -> str | None:
    """``cloud`` or ``edge`` for ``cloud``/``edge``/``0``/``1`` (ShowTaskInfo and the list
    disagree); anything else as it came (a string), None when absent."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    text = str(value).strip().lower()
    return TASK_TYPES.get(text, str(value))


def input_type(value: Any) -> str | None:
    """The input type with ``restful`` read as the ``edgerestful`` the data docs name."""
    text = _str(value)
    return None if text is None else INPUT_TYPES.get(text.lower(), text)


@dataclass(frozen=True)
class ViasPage:
    """One page of the VIAS task list. ``count`` is what the upstream said: the number of items
    on this page, not a total. ``is_last``: the page is short, so no page follows."""

    tasks: list[dict[str, Any]]
    page: int
    page_size: int
    count: int | None = None
    request_id: str | None = None

    @property
    def is_last(self) -> bool:
        return len(self.tasks) < self.page_size


class ViasClient:
    """Calls one VIAS endpoint for one project, through a VAS client (its transport, auth and
    typed errors).

    Build it with the same keyword arguments as ``VasClient`` (endpoint = the VIAS endpoint), or
    around an existing client with ``ViasClient.on(client)``.
    """

    def __init__(self, *, client: VasClient | None = None, **kwargs: Any) -> None:
        self.client = client or VasClient(**kwargs)

    @classmethod
    def on(cls, client: VasClient) -> ViasClient:
        return cls(client=client)

    @property
    def endpoint(self) -> str:
        return self.client.endpoint

    @property
    def project_id(self) -> str:
        return self.client.project_id

    def __repr__(self) -> str:
        return f"ViasClient(endpoint={self.endpoint!r}, project_id={self.project_id!r})"

    # ---------------------------------------------------------------- public API

    def show_task(self, task_id: str) -> Fetched:
        """ShowTaskInfo. Raises ``TaskNotFound`` and the other ``VasError`` subclasses."""
        fetched = self.show_task_unredacted(task_id)
        return Fetched(payload=redact_task(fetched.payload), request_id=fetched.request_id)

    def show_task_unredacted(self, task_id: str) -> Fetched:
        """ShowTaskInfo exactly as the upstream sent it, secrets included: only for building an
        UpdateTask body in memory (never store, cache, log or show it)."""
        try:
            answer = self._call("GET", self._task_path(task_id))
        except TaskNotFound as exc:
            exc.reason = exc.reason or "vias"  # worded for VIAS (no service to check)
            raise
        doc = self._json(answer)
        if not (isinstance(doc.get("id"), str) and isinstance(doc.get("state"), str)):
            raise UpstreamInvalidResponse(
                "not_a_task",
                status=answer.status,
                request_id=answer.request_id,
            )
        return Fetched(payload=doc, request_id=answer.request_id)

    def list_tasks(
        self,
        *,
        page: int = FIRST_PAGE,
        page_size: int = 20,
        task_state: str | None = None,
        task_name: str | None = None,
        camera_name: str | None = None,
        title: str | None = None,
        company: str | None = None,
        alg_id: str | None = None,
        sort_dir: str | None = None,
    ) -> ViasPage:
        """ListTasks: one page (only the filters given are sent). ``page_size`` is 5–1,000."""
        if isinstance(page_size, bool) or not MIN_PAGE_SIZE <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be {MIN_PAGE_SIZE}–{MAX_PAGE_SIZE}")
        if isinstance(page, bool) or page < 0:
            raise ValueError("page must be 0 or more")
        params = {
            "page": page,
            "page_size": page_size,
            "task_state": task_state,
            "task_name": task_name,
            "camera_name": camera_name,
            "title": title,
            "company": company,
            "alg_id": alg_id,
            "sort_dir": sort_dir,
        }
        query = {k: str(v) for k, v in params.items() if v is not None and v != ""}
        # A page of up to 1,000 tasks has the list's larger cap, as for VAS.
        answer = self._call("GET", self._base() + "/tasks", params=query, cap=MAX_LIST_BODY_BYTES)
        doc = self._json(answer)
        count, tasks = doc.get("count"), doc.get("tasks")
        if tasks is None and count == 0 and not isinstance(count, bool):
            tasks = []  # an empty page may leave the list out
        if (
            not isinstance(tasks, list)
            or not all(isinstance(t, dict) for t in tasks)
            or (count is not None and (isinstance(count, bool) or not isinstance(count, int)))
        ):
            raise UpstreamInvalidResponse(
                "not_a_list",
                status=answer.status,
                request_id=answer.request_id,
            )
        return ViasPage(
            tasks=[redact_task(t) for t in tasks],
            page=page,
            page_size=page_size,
            count=count,
            request_id=answer.request_id,
        )

    def iter_pages(self, *, page_size: int = MAX_PAGE_SIZE, **filters: Any) -> Iterator[ViasPage]:
        """Every page from the first, stopping at the first short one (``count`` is no total)."""
        page = FIRST_PAGE
        for _ in range(MAX_PAGES):
            current = self.list_tasks(page=page, page_size=page_size, **filters)
            yield current
            if current.is_last:
                return
            page += 1

    def start_task(self, task_id: str) -> str | None:
        """``PUT …/action/start`` (200). Never retried. Returns the request id."""
        return self._call("PUT", self._task_path(task_id) + "/action/start").request_id

    def stop_task(self, task_id: str) -> str | None:
        """``PUT …/action/stop`` (200). Never retried. Returns the request id."""
        return self._call("PUT", self._task_path(task_id) + "/action/stop").request_id

    def update_task(self, task_id: str, body: dict[str, Any]) -> Fetched:
        """UpdateTask ``PUT /v2/{project_id}/tasks/{task_id}`` with ``body`` (e.g. ``{"config":
        {"common": {...}}}``). Never retried. The SDK types the answer as any object: a task
        document in it is returned redacted, anything else as an empty payload (refetch to see
        the result)."""
        if not isinstance(body, dict):
            raise ValueError("the update body must be an object")
        raw = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        answer = self._call("PUT", self._task_path(task_id), body=raw)
        doc: dict[str, Any] = {}
        if answer.body.strip():
            try:
                doc = self._json(answer)
            except UpstreamInvalidResponse:
                doc = {}  # the update was accepted; only its echo is unusable
        if not (isinstance(doc.get("id"), str) and isinstance(doc.get("state"), str)):
            doc = {}
        return Fetched(payload=redact_task(doc), request_id=answer.request_id)

    def check(self) -> CheckResult:
        """Cheap connection test (the first page of the list); never raises for upstream
        failures."""
        try:
            page = self.list_tasks(page=FIRST_PAGE, page_size=MIN_PAGE_SIZE)
        except VasError as exc:
            return CheckResult(ok=False, error=exc, request_id=exc.request_id)
        except ValueError:
            return CheckResult(ok=False, error=UpstreamBadRequest("invalid_path"))
        # The tasks on the first (smallest) page: VIAS gives no total.
        return CheckResult(ok=True, count=len(page.tasks), request_id=page.request_id)

    # ---------------------------------------------------------------- internals

    def _base(self) -> str:
        return f"/v2/{quote(self.project_id, safe='')}"

    def _task_path(self, task_id: str) -> str:
        if not isinstance(task_id, str) or not _PATH_SEGMENT.match(task_id):
            raise ValueError("invalid task id")
        return f"{self._base()}/tasks/{task_id}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        return self.client._call(method, path, **kwargs)

    def _json(self, answer: Answer) -> dict[str, Any]:
        return self.client._json(answer)


# ------------------------------------------------------------------------- the document


#: ShowTaskInfo's documented fields (VAS-API.md §10); any other top-level key is shown as it came.
KNOWN_FIELDS = frozenset(
    {
        "id",
        "name",
        "creator",
        "project_id",
        "description",
        "release_id",
        "service_id",
        "created_at",
        "updated_at",
        "state",
        "status",
        "error",
        "schedule_status",
        "schedule",
        "input",
        "output",
        "config",
        "video_source_name",
        "title",
        "group_name",
        "company",
        "task_config",
        "type",
        "resource_order_id",
        "package_id",
        "device_id",
        "access_address",
        "algorithm_publish_id",
    }
)


@dataclass(frozen=True)
class ViasTaskView(TaskView):
    """``TaskView`` for a VIAS document: ``config.common`` read as the service configuration,
    ``schedule`` beside it, and the fields VIAS adds. Never raises, whatever the shape."""

    schedule: dict[str, Any] | None = None
    schedule_status: str | None = None
    video_source_name: str | None = None
    title: str | None = None
    company: str | None = None
    group_name: str | None = None
    task_type: str | None = None
    release_id: str | None = None
    service_id: str | None = None
    algorithm_publish_id: str | None = None
    package_id: str | None = None
    device_id: str | None = None
    access_address: str | None = None
    task_config: str | None = None
    event_center: Any = None
    is_vias: bool = True
    extra_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def state_family(self) -> str:
        return VIAS_STATES.get(self.state or "", ("unknown", "", ""))[0]

    @property
    def state_meaning(self) -> str:
        return VIAS_STATES.get(self.state or "", ("", "Unknown state.", ""))[1]

    @property
    def state_zh(self) -> str:
        return VIAS_STATES.get(self.state or "", ("", "", ""))[2]

    @property
    def schedule_windows(self) -> list[dict[str, Any]]:
        return schedule_windows(self.schedule)

    @classmethod
    def from_payload(cls, payload: Any) -> ViasTaskView:
        if not isinstance(payload, dict):
            return cls()
        base = TaskView.from_payload(payload)
        output = _dict(payload.get("output"))
        schedule = payload.get("schedule")
        values = {name: getattr(base, name) for name in TaskView.__dataclass_fields__}
        values["input_type"] = input_type(_dict(payload.get("input")).get("type"))
        values["service_config_common"] = dict(common_config(payload))
        return cls(
            **values,
            schedule=schedule if isinstance(schedule, dict) else None,
            schedule_status=_str(payload.get("schedule_status")),
            video_source_name=_str(payload.get("video_source_name")),
            title=_str(payload.get("title")),
            company=_str(payload.get("company")),
            group_name=_str(payload.get("group_name")),
            task_type=task_type(payload.get("type")),
            release_id=_str(payload.get("release_id")),
            service_id=_str(payload.get("service_id")),
            algorithm_publish_id=_str(payload.get("algorithm_publish_id")),
            package_id=_str(payload.get("package_id")),
            device_id=_str(payload.get("device_id")),
            access_address=_str(payload.get("access_address")),
            task_config=_str(payload.get("task_config")),
            event_center=output.get("event_center"),
            extra_fields={str(k): v for k, v in payload.items() if k not in KNOWN_FIELDS},
        )


def common_config(payload: Any) -> dict[str, Any]:
    """The algorithm parameters of a task document: VAS ``service_config.common``, else VIAS
    ``config.common``; ``{}`` when neither is an object."""
    if not isinstance(payload, dict):
        return {}
    for key in ("service_config", "config"):
        common = _dict(payload.get(key)).get("common")
        if isinstance(common, dict):
            return common
    return {}


def schedule_windows(schedule: Any) -> list[dict[str, Any]]:
    """A weekly ``schedule`` as rows a person reads: ``[{"days": [1, 2], "day_names": [...],
    "windows": [("07:00:00", "20:00:00")]}]``.

    ``periods`` is documented as nested (one inner list per ``days_of_week`` entry is not
    confirmed): when the lengths match each day gets its own windows, otherwise every day gets
    all of them. A flat VAS-style list of windows is read too. Never raises.
    """
    if not isinstance(schedule, dict):
        return []
    days = [
        d
        for d in (schedule.get("days_of_week") or [])
        if isinstance(d, int) and not isinstance(d, bool)
    ]
    periods = schedule.get("periods")
    periods = periods if isinstance(periods, list) else []
    groups: list[list[tuple[str, str]]] = []
    flat: list[tuple[str, str]] = []
    for item in periods:
        if isinstance(item, list):
            groups.append([w for w in (_window(x) for x in item) if w])
        elif (w := _window(item)) is not None:
            flat.append(w)
    if flat:
        groups.append(flat)
    rows: list[dict[str, Any]] = []
    if days and len(groups) == len(days) and len(groups) > 1:
        for day, windows in zip(days, groups, strict=True):
            rows.append({"days": [day], "windows": windows})
    else:
        windows = [w for group in groups for w in group]
        rows.append({"days": days, "windows": windows})
    for row in rows:
        row["day_names"] = [DAY_NAMES[d - 1] if 1 <= d <= 7 else str(d) for d in row["days"]]
    return rows


def _window(item: Any) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return None
    begin, end = _str(item.get("begin_at")), _str(item.get("end_at"))
    if begin is None and end is None:
        return None
    return (begin or "?", end or "?")


# ------------------------------------------------------------------------- VAS -> VIAS


#: The differences table of VAS-API.md §10, as (VAS field, VIAS field, note) rows.
VAS_TO_VIAS_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("service_config.common", "config.common", gettext_noop("Same keys; target_roi unchanged.")),
    (
        "timing",
        "schedule",
        gettext_noop("Weekly only; periods become a list of lists (one per day)."),
    ),
    ("timing_status", "schedule_status", gettext_noop("ACTIVATED / INACTIVATED as before.")),
    (
        "input.type",
        "input.type",
        gettext_noop("Use video_source (video_source_id); the old types are being retired."),
    ),
    (
        "output.hosting",
        "output.event_center",
        gettext_noop("Hosting and localpath are gone; event_center (true/false) is new."),
    ),
    (
        "output.localpath",
        "—",
        gettext_noop("Not available in VIAS; use OBS, DIS or a webhook."),
    ),
    ("service_name", "service_id / title", gettext_noop("Creation still names the service.")),
    ("service_version", "service_version", gettext_noop("Given at creation only.")),
    ("edge_pool_id", "type (edge)", gettext_noop("VIAS reports edge or cloud as the task type.")),
    ("hosting_result", "—", gettext_noop("Not in VIAS.")),
)


def vas_to_vias(doc: Any) -> list[dict[str, Any]]:
    """For a VAS task document, each field the §10 table maps, with its value and the VIAS
    field it becomes. Never raises."""
    doc = doc if isinstance(doc, dict) else {}
    rows = []
    for vas_field, vias_field, note in VAS_TO_VIAS_FIELDS:
        value: Any = doc
        for part in vas_field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if vas_field == "timing" and isinstance(value, dict):
            suggestion: Any = vias_schedule_from_timing(value)
        elif vas_field == "input.type" and value is not None:
            suggestion = "video_source" if value != "vcn" else "video_source (or vcn)"
        else:
            suggestion = value
        rows.append(
            {
                "vas_field": vas_field,
                "vias_field": vias_field,
                "value": value,
                "vias_value": suggestion if vias_field != "—" else None,
                "present": value is not None,
                "note": note,
            }
        )
    return rows


def vias_schedule_from_timing(timing: dict[str, Any]) -> dict[str, Any] | str:
    """The VIAS ``schedule`` a VAS ``timing`` becomes, or a sentence when it has no weekly
    equivalent (once, monthly, frequency-based)."""
    kind = timing.get("type")
    periods = timing.get("periods")
    if kind not in ("weekly", "daily") or not isinstance(periods, list):
        return gettext_noop("No weekly equivalent: VIAS schedules are weekly time windows only.")
    days = timing.get("days_of_week") if kind == "weekly" else [1, 2, 3, 4, 5, 6, 7]
    days = [d for d in (days or []) if isinstance(d, int) and not isinstance(d, bool)]
    windows = [p for p in periods if isinstance(p, dict)]
    return {
        "type": "weekly",
        "timezone": timing.get("timezone"),
        "days_of_week": days,
        "periods": [list(windows) for _ in days],
    }


__all__ = [
    "FIRST_PAGE",
    "MAX_PAGE_SIZE",
    "MIN_PAGE_SIZE",
    "VAS_TO_VIAS_FIELDS",
    "VIAS_STATES",
    "ViasClient",
    "ViasPage",
    "ViasTaskView",
    "common_config",
    "input_type",
    "schedule_windows",
    "task_type",
    "vas_to_vias",
    "vias_schedule_from_timing",
]
