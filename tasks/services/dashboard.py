"""The dashboard: every project the user can see, with counts per state, the problems first (with
how long), the last successful poll, whether its upstream is failing, the latest events and what
needs attention.

A bounded number of queries whatever the number of projects, tasks and snapshots: the projects,
one GROUP BY for the counts, one page of problems (their `since` computed by a subquery for the
listed rows only), one page of a state's tasks when filtered, the poll status, the latest events,
and the two queries of "needs attention".

Which tasks count: the watched ones and those fetched in the last RECENT_DAYS days (the
contract's "watched and recently fetched tasks"); a task the upstream no longer has (gone) is a
problem, not a state.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from tasks import selectors
from tasks.links import task_url
from tasks.models import CloudProject, Role, TaskSnapshot, TrackedTask
from tasks.services.attention import Attention, attention_for_projects
from tasks.services.health import PROBLEM_STATES, UP_STATES
from tasks.vas.parsing import STATES

RECENT_DAYS = 7
PROJECTS_PAGE = 50
PROBLEMS_PAGE = 25
TASKS_PAGE = 25
EVENTS = 20
ATTENTION_LISTED = 10
#: Problems in one API answer (the oldest first); `problems_count` says how many there are.
API_PROBLEMS = 50
#: Display order of states: the API's own order (tasks.vas.parsing.STATES), unknown ones last.
STATE_ORDER = {state: index for index, state in enumerate(STATES)}


def _page(raw: Any) -> int | None:
    if raw in (None, ""):
        return 1
    text = str(raw)
    if not text.isdigit() or len(text) > 6 or int(text) < 1:
        return None
    return int(text)


@dataclass
class DashboardFilters:
    project: uuid.UUID | None = None
    state: str = ""
    page: int = 1  # of the projects
    problems_page: int = 1
    tasks_page: int = 1
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_query(cls, query: Any) -> DashboardFilters:
        """The filters of a query string; bad values are left out and named in `errors`."""
        filters = cls()
        project = query.get("project") or ""
        if project:
            try:
                filters.project = uuid.UUID(project)
            except ValueError:
                filters.errors["project"] = [_("Not a project id.")]
        state = query.get("state") or ""
        if state:
            if state in STATES:
                filters.state = state
            else:
                filters.errors["state"] = [_("Unknown state; pick one from the list.")]
        for name in ("page", "problems_page", "tasks_page"):
            value = _page(query.get(name))
            if value is None:
                filters.errors[name] = [_("A page number: 1, 2, 3 …")]
            else:
                setattr(filters, name, value)
        return filters


@dataclass
class ProjectRow:
    project: CloudProject
    states: list[tuple[str, int]]
    tasks: int = 0
    watched: int = 0
    problems: int = 0
    last_poll_at: datetime | None = None
    upstream_failing: bool = False
    failing_code: str = ""
    attention: int = 0

    @property
    def is_admin(self) -> bool:
        return getattr(self.project, "is_admin", False)


@dataclass
class ProblemRow:
    task: TrackedTask
    project: CloudProject
    since: datetime | None
    now: datetime

    @property
    def state(self) -> str:
        return "GONE" if self.task.gone_at else self.task.state

    @property
    def seconds(self) -> int | None:
        return None if self.since is None else max(0, int((self.now - self.since).total_seconds()))

    @property
    def url(self) -> str:
        return task_url(self.project, self.task.service, self.task.task_id)


@dataclass
class Paged:
    rows: list[Any]
    number: int
    count: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


@dataclass
class Dashboard:
    now: datetime
    filters: DashboardFilters
    all_projects: list[CloudProject]
    projects: Paged
    totals: list[tuple[str, int]]
    problems: Paged
    tasks_in_state: Paged | None
    events: list[Any]
    attention: Attention
    has_events: bool

    def as_api(self) -> dict[str, Any]:
        return {
            "projects": [
                {
                    "id": str(row.project.public_id),
                    "name": row.project.name,
                    "states": dict(row.states),
                    "problems": row.problems,
                    "last_poll_at": _iso(row.last_poll_at),
                    "upstream_failing": row.upstream_failing,
                    "watched": row.watched,
                    "attention": row.attention,
                }
                for row in self.projects.rows
            ],
            "problems_count": self.problems.count,
            "problems": [
                {
                    "project": str(p.project.public_id),
                    "project_name": p.project.name,
                    "service": p.task.service,
                    "task_id": p.task.task_id,
                    "name": p.task.name,
                    "state": p.state,
                    "since": _iso(p.since),
                    "seconds": p.seconds,
                }
                for p in self.problems.rows
            ],
            "events": [_event_dict(e) for e in self.events],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _included(now: datetime) -> Q:
    return Q(watched=True) | Q(last_fetched__gte=now - timedelta(days=RECENT_DAYS))


def _problem_q() -> Q:
    return Q(state__in=PROBLEM_STATES) | Q(gone_at__isnull=False)


def _ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (STATE_ORDER.get(item[0], 99), item[0]))


def _problem_since() -> Subquery:
    """When the current problem began: the first version after the newest one that was up (a
    task never up: its first version; the caller falls back to `last_changed` for a task without
    stored versions). Correlated subqueries on the (task, seq) index, evaluated only for the rows
    a page lists."""
    last_up = (
        TaskSnapshot.objects.filter(task=OuterRef(OuterRef("pk")), state__in=UP_STATES)
        .order_by("-seq")
        .values("seq")[:1]
    )
    return Subquery(
        TaskSnapshot.objects.filter(task=OuterRef("pk"), seq__gt=Coalesce(Subquery(last_up), 0))
        .order_by("seq")
        .values("first_seen")[:1]
    )


def _model(name: str):
    """A model of the monitor work (PollSchedule, TaskEvent), or None before it exists."""
    try:
        return apps.get_model("tasks", name)
    except LookupError:
        return None


def _poll_status(project_pks: list[int], fallback: dict[int, datetime | None]) -> dict[int, Any]:
    """project pk -> (last successful poll, failing, failing code), from the worker's
    PollSchedule; before that exists, the newest fetch of a watched task stands in."""
    schedule = _model("PollSchedule")
    if schedule is None:
        return {pk: (fallback.get(pk), False, "") for pk in project_pks}
    status: dict[int, Any] = {pk: (None, False, "") for pk in project_pks}
    rows = schedule.objects.filter(project_id__in=project_pks).values_list(
        "project_id", "last_success_at", "failing_since", "failing_code"
    )
    for pk, last, failing_since, code in rows:
        previous, failing, previous_code = status[pk]
        newest = max((t for t in (previous, last) if t), default=None)
        status[pk] = (
            newest,
            failing or failing_since is not None,
            previous_code or (code if failing_since else ""),
        )
    return status


def _latest_events(project_pks: list[int], limit: int) -> tuple[list[Any], bool]:
    """The newest events of the projects (the monitor's TaskEvent), and whether events exist."""
    event = _model("TaskEvent")
    if event is None:
        return [], False
    rows = list(
        event.objects.filter(project_id__in=project_pks).order_by("-seen_at", "-pk")[:limit]
    )
    return rows, True


def _event_dict(event: Any) -> dict[str, Any]:
    return {
        "id": event.pk,
        "project": str(event.project.public_id),
        "kind": event.kind,
        "severity": event.severity,
        "service": event.service,
        "task_id": event.task_id,
        "task_name": event.task_name,
        "from": event.from_state or None,
        "to": event.to_state or None,
        "seen_at": _iso(event.seen_at),
        "problem_since": _iso(getattr(event, "problem_since", None)),
        "problem_seconds": getattr(event, "problem_seconds", None),
    }


def dashboard_get(
    *, user, filters: DashboardFilters, now: datetime, api: bool = False
) -> Dashboard:
    """The dashboard of `user` (only projects they are a member of; superusers: all)."""
    visible = list(selectors.project_list(user=user).order_by("name"))
    for project in visible:
        project.is_admin = user.is_superuser or project.user_role == Role.ADMIN
    projects = [p for p in visible if filters.project is None or p.public_id == filters.project]
    by_pk = {p.pk: p for p in projects}
    pks = list(by_pk)
    included = TrackedTask.objects.filter(_included(now), project_id__in=pks)

    # One GROUP BY: tasks per project and state, watched and gone among them, newest watched fetch.
    per_state: dict[int, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    tasks = defaultdict(int)
    watched = defaultdict(int)
    problems = defaultdict(int)
    newest_watched: dict[int, datetime | None] = {}
    rows = included.values("project_id", "state").annotate(
        n=Count("pk"),
        live=Count("pk", filter=Q(gone_at__isnull=True)),
        watched_n=Count("pk", filter=Q(watched=True)),
        newest=Max("last_fetched", filter=Q(watched=True)),
    )
    for row in rows:
        pk, state = row["project_id"], row["state"] or "—"
        tasks[pk] += row["n"]
        watched[pk] += row["watched_n"]
        gone = row["n"] - row["live"]
        problems[pk] += gone + (row["live"] if state in PROBLEM_STATES else 0)
        if row["live"]:
            per_state[pk][state] = row["live"]
            if not filters.state or state == filters.state:
                totals[state] += row["live"]
        if row["newest"] and (newest_watched.get(pk) is None or row["newest"] > newest_watched[pk]):
            newest_watched[pk] = row["newest"]

    poll = _poll_status(pks, newest_watched)
    attention = attention_for_projects(
        projects=projects,
        now=now,
        limit=ATTENTION_LISTED,
        admin_pks=[p.pk for p in projects if p.is_admin],
    )
    project_rows = []
    for project in projects:
        last_poll_at, failing, code = poll[project.pk]
        project_rows.append(
            ProjectRow(
                project=project,
                states=_ordered(per_state[project.pk]),
                tasks=tasks[project.pk],
                watched=watched[project.pk],
                problems=problems[project.pk],
                last_poll_at=last_poll_at,
                upstream_failing=failing,
                failing_code=code,
                attention=attention.total(project),
            )
        )
    # Projects with problems, then failing upstreams, first; then by name.
    project_rows.sort(key=lambda r: (-r.problems, not r.upstream_failing, r.project.name))
    start = (filters.page - 1) * PROJECTS_PAGE
    projects_page = Paged(
        project_rows[start : start + PROJECTS_PAGE], filters.page, len(project_rows), PROJECTS_PAGE
    )

    # The problems, longest unchanged first; `since` only for the listed rows.
    if not filters.state:
        problem_qs = included.filter(_problem_q())
        problem_count = sum(problems.values())
    else:  # one state: its live tasks, when it is a problem state
        problem_qs = included.filter(state=filters.state, gone_at__isnull=True)
        problem_count = (
            sum(per_state[pk].get(filters.state, 0) for pk in pks)
            if filters.state in PROBLEM_STATES
            else 0
        )
    size = API_PROBLEMS if api else PROBLEMS_PAGE
    number = 1 if api else filters.problems_page
    offset = (number - 1) * size
    listed = (
        problem_qs.annotate(since=Coalesce(_problem_since(), F("last_changed")))
        .defer("payload_problems")
        .order_by("last_changed", "pk")[offset : offset + size]
        if problem_count
        else []
    )
    problem_rows = []
    for task in listed:
        project = by_pk[task.project_id]
        task.project = project
        since = task.gone_at or task.since
        problem_rows.append(ProblemRow(task=task, project=project, since=since, now=now))
    problems_page = Paged(problem_rows, number, problem_count, size)

    tasks_in_state = None
    if filters.state and not api:
        count = sum(per_state[pk].get(filters.state, 0) for pk in pks)
        offset = (filters.tasks_page - 1) * TASKS_PAGE
        rows_in_state = (
            included.filter(state=filters.state, gone_at__isnull=True).order_by(
                "project__name", "name", "task_id"
            )[offset : offset + TASKS_PAGE]
            if count
            else []
        )
        listed_tasks = []
        for task in rows_in_state:
            task.project = by_pk[task.project_id]
            task.url = task_url(task.project, task.service, task.task_id)
            listed_tasks.append(task)
        tasks_in_state = Paged(listed_tasks, filters.tasks_page, count, TASKS_PAGE)

    events, has_events = _latest_events(pks, EVENTS)
    for event in events:
        event.project = by_pk[event.project_id]
    return Dashboard(
        now=now,
        filters=filters,
        all_projects=visible,
        projects=projects_page,
        totals=_ordered(dict(totals)),
        problems=problems_page,
        tasks_in_state=tasks_in_state,
        events=events,
        attention=attention,
        has_events=has_events,
    )
