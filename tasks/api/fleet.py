"""The fleet's API: a task's health over time and the dashboard across projects."""

from __future__ import annotations

import re

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks import selectors
from tasks.api.schema import COMMON, PROJECT, error_responses
from tasks.api.views import TASK_PARAMS, ProjectScopedMixin
from tasks.services import dashboard as dashboard_service
from tasks.services.health import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, task_health_get
from tasks.services.task_fetch import validate_identifiers

_DAYS = re.compile(r"^[0-9]{1,2}$")


HealthSerializer = inline_serializer(
    name="Health",
    fields={
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "observed_seconds": serializers.IntegerField(),
        "state_seconds": serializers.DictField(child=serializers.IntegerField()),
        "up_ratio": serializers.FloatField(allow_null=True),
        "flips": serializers.IntegerField(),
        "longest_problem_seconds": serializers.IntegerField(),
        "segments": inline_serializer(
            name="HealthSegment",
            many=True,
            fields={
                "state": serializers.CharField(allow_null=True, help_text="null: not observed"),
                "from": serializers.DateTimeField(),
                "to": serializers.DateTimeField(),
            },
        ),
    },
)


DashboardSerializer = inline_serializer(
    name="Dashboard",
    fields={
        "projects": inline_serializer(
            name="DashboardProject",
            many=True,
            fields={
                "id": serializers.UUIDField(),
                "name": serializers.CharField(),
                "states": serializers.DictField(child=serializers.IntegerField()),
                "problems": serializers.IntegerField(),
                "last_poll_at": serializers.DateTimeField(allow_null=True),
                "upstream_failing": serializers.BooleanField(),
                "watched": serializers.IntegerField(),
                "attention": serializers.IntegerField(help_text="findings that need attention"),
            },
        ),
        "problems_count": serializers.IntegerField(),
        "problems": inline_serializer(
            name="DashboardProblem",
            many=True,
            fields={
                "project": serializers.UUIDField(),
                "project_name": serializers.CharField(),
                "service": serializers.CharField(),
                "task_id": serializers.CharField(),
                "name": serializers.CharField(),
                "state": serializers.CharField(help_text="the task's state, or GONE"),
                "since": serializers.DateTimeField(allow_null=True),
                "seconds": serializers.IntegerField(allow_null=True),
            },
        ),
        "events": inline_serializer(
            name="DashboardEvent",
            many=True,
            fields={
                "id": serializers.IntegerField(),
                "project": serializers.UUIDField(),
                "kind": serializers.CharField(),
                "severity": serializers.CharField(),
                "service": serializers.CharField(),
                "task_id": serializers.CharField(),
                "task_name": serializers.CharField(),
                "from": serializers.CharField(allow_null=True),
                "to": serializers.CharField(allow_null=True),
                "seen_at": serializers.DateTimeField(),
                "problem_since": serializers.DateTimeField(allow_null=True),
                "problem_seconds": serializers.IntegerField(allow_null=True),
            },
        ),
    },
)


def parse_days(raw: str | None) -> int:
    """`?days=` as the contract says: 1–90, default 7, anything else 400 `invalid`."""
    if raw is None:
        return DEFAULT_DAYS
    if not _DAYS.match(raw) or not MIN_DAYS <= int(raw) <= MAX_DAYS:
        raise exceptions.ValidationError(
            {"days": [_("A whole number of days from 1 to 90.")]}, code="invalid"
        )
    return int(raw)


@extend_schema(
    tags=["tasks"],
    summary="A task's health over the last N days, from its snapshots",
    description=(
        "Time in each state, the share of observed time it was up (RUNNING or SUCCEEDED), flips "
        "between up and not up, the longest problem, and segments that tile the window "
        "(`state: null` = not observed: time no fetch saw is never counted). See the README's "
        "“Fleet” section for the rule."
    ),
    parameters=[
        *TASK_PARAMS,
        OpenApiParameter("days", int, description="1–90 (default 7); else 400 `invalid`."),
    ],
    responses={200: HealthSerializer, **error_responses(*PROJECT, "invalid", "invalid_task_id")},
)
class TaskHealthView(ProjectScopedMixin, APIView):
    def get(self, request: Request, project, task_id, service=None) -> Response:
        project = self.get_project()
        service = service or self.kwargs.get("service")
        validate_identifiers(service=service, task_id=task_id)
        days = parse_days(request.query_params.get("days"))
        tracked = selectors.tracked_task_get(project=project, service=service, task_id=task_id)
        tracked.project = project
        health = task_health_get(task=tracked, days=days, now=timezone.now())
        return Response(health.as_dict())


@extend_schema(
    tags=["dashboard"],
    summary="Every visible project: counts per state, problems, recent events",
    parameters=[
        OpenApiParameter("project", str, description="Only this project (its `id`)."),
        OpenApiParameter("state", str, description="Only tasks in this state."),
    ],
    responses={200: DashboardSerializer, **error_responses(*COMMON, "invalid")},
)
class DashboardView(APIView):
    def get(self, request: Request) -> Response:
        filters = dashboard_service.DashboardFilters.from_query(request.query_params)
        if filters.errors:
            raise exceptions.ValidationError(filters.errors, code="invalid")
        board = dashboard_service.dashboard_get(
            user=request.user, filters=filters, now=timezone.now(), api=True
        )
        return Response(board.as_api())
