"""The REST API: thin views that validate, call the services the pages call, and serialise.

Every project-scoped view resolves the project through tasks.access first (not a member: 404;
an admin action by a viewer: 403), and every object below a project is looked up within it.
"""

import io
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import exceptions, generics, status
from rest_framework.authentication import BasicAuthentication
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks import selectors
from tasks.access import can_create_projects, get_admin_project_for_user, get_project_for_user
from tasks.api import serializers as s
from tasks.api.authentication import TokenAuthentication, presented_digest
from tasks.api.pagination import LazyPagination
from tasks.api.schema import (
    ADMIN,
    COMMON,
    PROJECT,
    RETRY_AFTER,
    STALE_EXAMPLE,
    TASK_EXAMPLE,
    UPSTREAM,
    WRITE,
    error_responses,
)
from tasks.api.throttling import ApiRateThrottle
from tasks.caching import memo
from tasks.caching.read import CacheRead, cache_read
from tasks.errors import Forbidden, NotFound, PortalError
from tasks.models import CloudProject, Membership, Role, TaskSnapshot, TrackedTask
from tasks.services import frames
from tasks.services import members as member_services
from tasks.services import projects as project_services
from tasks.services.task_actions import task_start, task_stop
from tasks.services.task_fetch import (
    IDENTIFIER,
    identifiers_valid,
    task_cache_key,
    task_fetch,
    validate_identifiers,
)
from tasks.services.task_list import task_list_upstream, task_list_vias
from tasks.services.task_roi import task_roi_update
from tasks.services.tokens import token_create, token_two_factor_check
from tasks.services.watch import task_watch
from tasks.vas import VIAS_SERVICE

PROJECT_PARAM = OpenApiParameter(
    "project", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The project's `id`."
)
SERVICE_PARAM = OpenApiParameter(
    "service",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="VAS service name, e.g. `c-face-edge` (else 400 `invalid_service`).",
    pattern=IDENTIFIER.pattern,
)
TASK_PARAM = OpenApiParameter(
    "task_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Upstream task id (else 400 `invalid_task_id`).",
    pattern=IDENTIFIER.pattern,
)
TASK_PARAMS = [PROJECT_PARAM, SERVICE_PARAM, TASK_PARAM]


class ProjectScopedMixin:
    """`self.get_project()`: the URL's project if the user may see it (with `.role`), else 404;
    `self.get_project(admin=True)`: 403 for a viewer.

    `initial()` makes the request's one cache read (tasks.caching.read) before authentication: a
    token-authenticated GET reads its token's epoch, its user's and the project's epochs and the
    keys `cache_keys()` names, and bumps its user's rate counter, in one round trip. The read is
    `request.cache_read`, handed on to authentication, the throttle, the project lookup and the
    services. Writes read nothing ahead: what they change must not be answered from before.
    """

    # A DRF Request; typed loosely because Django's View declares an HttpRequest there.
    request: Any
    kwargs: dict

    def initial(self, request: Request, *args, **kwargs) -> None:
        request.cache_read = self.make_cache_read(request)  # type: ignore[attr-defined]
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def make_cache_read(self, request: Request) -> CacheRead | None:
        digest = presented_digest(request)
        if digest is None or request.method not in ("GET", "HEAD"):
            return None
        public_id = self.kwargs["project"]
        keys = [memo.token_epoch_key(digest), memo.project_epoch_key(public_id)]
        counters = []
        owner = memo.token_owner(digest)  # known once this process has seen the token
        if owner is not None:
            keys.append(memo.user_epoch_key(owner))
            counters.append(ApiRateThrottle.user_window(owner))
        return cache_read([*keys, *self.cache_keys()], counters)

    def cache_keys(self) -> list[str]:
        """What else this view reads from the cache, from its URL."""
        return []

    def get_project(self, *, admin: bool = False) -> CloudProject:
        find = get_admin_project_for_user if admin else get_project_for_user
        return find(
            self.request.user,
            self.kwargs["project"],
            cached=getattr(self.request, "cache_read", None),
        )


def _fake(view) -> bool:
    """drf-spectacular builds the schema with fake views that have no real user or project."""
    return getattr(view, "swagger_fake_view", False)


# ---- tokens --------------------------------------------------------------------------------------


@extend_schema(
    tags=["auth"],
    summary="Get an API token (HTTP Basic auth)",
    description=(
        "Authenticate with HTTP Basic (username and password). Answers a new token, shown only "
        "here, and its expiry. Five wrong passwords for one user from one address lock that pair "
        "for a while (429 `locked_out`). A user with two-factor login sends the current code "
        "of their authenticator app (or a recovery code) as `otp`: without it 401 "
        "`otp_required`, a wrong one 401 `otp_invalid`. With PORTAL_REQUIRE_2FA, staff and "
        "project admins who have not enrolled get 401 `otp_required` until they do."
    ),
    request=s.TokenRequestSerializer,
    responses={
        200: s.TokenSerializer,
        **error_responses(
            *COMMON, "locked_out", "token_limit_reached", "otp_required", "otp_invalid", *WRITE
        ),
    },
    parameters=[RETRY_AFTER],
)
class TokenCreateView(APIView):
    authentication_classes = [BasicAuthentication]

    def post(self, request: Request) -> Response:
        body = s.TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # Basic auth proves the password only: a user with a second factor gives a code too.
        token_two_factor_check(user=request.user, code=body.validated_data.get("otp"))
        instance, key = token_create(
            user=request.user,
            expires_days=body.validated_data.get("expires_days"),
            name=body.validated_data.get("name", ""),
        )
        # As a login: updates last_login and resets django-axes' failure count.
        user_logged_in.send(sender=request.user.__class__, request=request, user=request.user)
        return Response({"token": key, "expiry": instance.expiry})

    def handle_exception(self, exc: Exception) -> Response:
        locked = getattr(self.request, "axes_locked_out", False) or getattr(
            getattr(self.request, "_request", None), "axes_locked_out", False
        )
        if locked and isinstance(
            exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated
        ):
            # django-axes' middleware must not swap our JSON for its HTML lockout page.
            self.request._request.axes_locked_out = False  # type: ignore[attr-defined]
            cooloff = settings.AXES_COOLOFF_TIME.total_seconds()
            return super().handle_exception(PortalError("locked_out", retry_after=cooloff))
        return super().handle_exception(exc)


@extend_schema(
    tags=["auth"],
    summary="Revoke the token used",
    request=None,
    responses={204: OpenApiResponse(description="Revoked."), **error_responses(*COMMON)},
)
class LogoutView(KnoxLogoutView):
    authentication_classes = [TokenAuthentication]


# ---- projects ------------------------------------------------------------------------------------


@extend_schema(tags=["projects"])
class ProjectListView(generics.ListCreateAPIView):
    serializer_class = s.ProjectSerializer

    def get_queryset(self):
        if _fake(self):
            return CloudProject.objects.none()
        return selectors.project_list(user=self.request.user).order_by("name")

    @extend_schema(
        summary="Projects you can see",
        responses={200: s.ProjectSerializer(many=True), **error_responses(*COMMON, "not_found")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a project (staff or `tasks.add_cloudproject`; you become its admin)",
        request=s.ProjectWriteSerializer,
        responses={
            201: s.ProjectSerializer,
            **error_responses(*COMMON, "permission_denied", *WRITE),
        },
    )
    def post(self, request, *args, **kwargs):
        if not can_create_projects(request.user):
            raise Forbidden(reason="staff_only")
        body = s.ProjectWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = project_services.project_create(
            actor=request.user, fields=body.plain(), secrets=body.secrets()
        )
        project.role = Role.ADMIN
        return Response(
            s.ProjectSerializer(project, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


def _expected_version(request: Request, body: s.ProjectWriteSerializer):
    """The version an edit is based on: the body's `updated_at`, else an `If-Match` header
    holding the same value (quotes and a weak `W/` prefix allowed), else None (unconditional)."""
    if "updated_at" in body.validated_data:
        return body.validated_data["updated_at"]
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    value = header.removeprefix("W/").strip('"')
    field = s.serializers.DateTimeField()
    try:
        return field.to_internal_value(value)
    except exceptions.ValidationError:
        raise exceptions.ValidationError(
            {"If-Match": ['Send the project\'s updated_at as read, e.g. "2026-01-01T00:00:00Z".']}
        ) from None


@extend_schema(tags=["projects"], parameters=[PROJECT_PARAM])
class ProjectDetailView(ProjectScopedMixin, APIView):
    @extend_schema(
        summary="One project", responses={200: s.ProjectSerializer, **error_responses(*PROJECT)}
    )
    def get(self, request: Request, project) -> Response:
        return Response(s.ProjectSerializer(self.get_project(), context={"request": request}).data)

    @extend_schema(
        summary="Change settings or replace credentials (admins)",
        description=(
            "Only the fields sent change. Secrets are write-only: a blank string keeps the "
            "stored value, `null` removes it. Switching `auth_type` drops the old type's secrets. "
            "Changing `endpoint`, `iam_endpoint`, `auth_type`, `region` or "
            "`upstream_project_id` needs the credentials again in the same request (400 naming "
            "them otherwise); a security token not sent again is removed. Send the `updated_at` "
            "you read (in the body, or as `If-Match`) to be refused with 409 `edit_conflict` "
            "when someone changed the project since."
        ),
        request=s.ProjectWriteSerializer(partial=True),
        parameters=[
            OpenApiParameter(
                "If-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Optional: the `updated_at` you read (409 `edit_conflict` if stale).",
            )
        ],
        responses={200: s.ProjectSerializer, **error_responses(*ADMIN, *WRITE, "edit_conflict")},
    )
    def patch(self, request: Request, project) -> Response:
        project = self.get_project(admin=True)
        body = s.ProjectWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        project = project_services.project_update(
            actor=request.user,
            project=project,
            fields=body.plain(),
            secrets=body.secrets(),
            clear=body.cleared(),
            expected_updated_at=_expected_version(request, body),
        )
        return Response(s.ProjectSerializer(project, context={"request": request}).data)

    @extend_schema(
        summary="Delete a project (admins)",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(*ADMIN)},
    )
    def delete(self, request: Request, project) -> Response:
        project_services.project_delete(actor=request.user, project=self.get_project(admin=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["projects"],
    summary="Test the connection",
    parameters=[PROJECT_PARAM],
    request=None,
    responses={200: s.CheckSerializer, **error_responses(*PROJECT)},
)
class ProjectCheckView(ProjectScopedMixin, APIView):
    def post(self, request: Request, project) -> Response:
        project = project_services.project_check(project=self.get_project())
        return Response(s.CheckSerializer(project).data)


# ---- members -------------------------------------------------------------------------------------


@extend_schema(tags=["members"], parameters=[PROJECT_PARAM])
class MemberListView(ProjectScopedMixin, generics.ListCreateAPIView):
    serializer_class = s.MemberSerializer

    def get_queryset(self):
        if _fake(self):
            return Membership.objects.none()
        return selectors.member_list(project=self.get_project())

    @extend_schema(
        summary="Members of the project",
        responses={200: s.MemberSerializer(many=True), **error_responses(*PROJECT)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Add a member (admins)",
        request=s.MemberAddSerializer,
        responses={201: s.MemberSerializer, **error_responses(*ADMIN, *WRITE)},
    )
    def post(self, request, *args, **kwargs):
        project = self.get_project(admin=True)
        body = s.MemberAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = member_services.member_add(
            actor=request.user, project=project, **body.validated_data
        )
        return Response(s.MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["members"],
    parameters=[
        PROJECT_PARAM,
        OpenApiParameter("username", OpenApiTypes.STR, OpenApiParameter.PATH),
    ],
)
class MemberDetailView(ProjectScopedMixin, APIView):
    def get_membership(self) -> Membership:
        return selectors.member_get(
            project=self.get_project(admin=True), username=self.kwargs["username"]
        )

    @extend_schema(
        summary="Change a member's role (admins; the last admin stays admin)",
        request=s.MemberRoleSerializer,
        responses={200: s.MemberSerializer, **error_responses(*ADMIN, *WRITE)},
    )
    def patch(self, request: Request, project, username) -> Response:
        membership = self.get_membership()
        body = s.MemberRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = member_services.member_set_role(
            actor=request.user, membership=membership, role=body.validated_data["role"]
        )
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(
        summary="Remove a member (admins; not the last admin)",
        responses={
            204: OpenApiResponse(description="Removed."),
            **error_responses(*ADMIN, "invalid"),
        },
    )
    def delete(self, request: Request, project, username) -> Response:
        member_services.member_remove(actor=request.user, membership=self.get_membership())
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- tasks ---------------------------------------------------------------------------------------


@extend_schema(
    tags=["tasks"],
    summary="Tasks the portal has fetched in this project",
    parameters=[PROJECT_PARAM, s.TrackedTaskQuerySerializer],
    responses={200: s.TrackedTaskSerializer(many=True), **error_responses(*PROJECT, "invalid")},
)
class TrackedTaskListView(ProjectScopedMixin, generics.ListAPIView):
    serializer_class = s.TrackedTaskSerializer

    def get_queryset(self):
        if _fake(self):
            return TrackedTask.objects.none()
        project = self.get_project()
        query = s.TrackedTaskQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.tracked_task_list(project=project, **query.validated_data)


class UpstreamTaskListView(ProjectScopedMixin, APIView):
    @extend_schema(
        tags=["tasks"],
        summary="The upstream's task list of a service (proxied, cached briefly)",
        operation_id="v1_projects_services_tasks_list",
        parameters=[PROJECT_PARAM, SERVICE_PARAM, s.UpstreamTaskQuerySerializer, RETRY_AFTER],
        responses={
            200: s.UpstreamTaskListSerializer,
            **error_responses(*PROJECT, "invalid", "invalid_state", *UPSTREAM),
        },
    )
    def get(self, request: Request, project, service) -> Response:
        project = self.get_project()
        if service == VIAS_SERVICE:  # VIAS pages by number and filters by camera and algorithm
            vias_query = s.ViasTaskQuerySerializer(data=request.query_params)
            vias_query.is_valid(raise_exception=True)
            return Response(
                task_list_vias(project=project, actor=request.user, **vias_query.validated_data)
            )
        query = s.UpstreamTaskQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            task_list_upstream(
                project=project, service=service, actor=request.user, **query.validated_data
            )
        )


class ViasTaskListView(UpstreamTaskListView):
    """The VIAS task list: the same view, documented with VIAS' query (pages by number)."""

    @extend_schema(
        tags=["tasks"],
        summary="The VIAS task list (proxied, cached briefly)",
        description=(
            "VIAS pages by number: `count` is the number of tasks on this page (VIAS gives no "
            "total) and `meta.has_more` says whether another page follows."
        ),
        operation_id="v1_projects_vias_tasks_list",
        parameters=[PROJECT_PARAM, s.ViasTaskQuerySerializer, RETRY_AFTER],
        responses={
            200: s.ViasTaskListSerializer,
            **error_responses(*PROJECT, "invalid", "invalid_state", *UPSTREAM),
        },
    )
    def get(self, request: Request, project, service=VIAS_SERVICE) -> Response:
        return super().get(request, project, service)


class _TaskView(ProjectScopedMixin, APIView):
    def fetch(self, request: Request, service: str, task_id: str):
        project = self.get_project()
        refresh = False
        if request.query_params:
            query = s.TaskQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            refresh = query.validated_data["refresh"]
        return task_fetch(
            project=project,
            service=service,
            task_id=task_id,
            refresh=refresh,
            actor=request.user,
            cached=request.cache_read,  # type: ignore[attr-defined]
        )

    def cache_keys(self) -> list[str]:
        service, task_id = self.kwargs["service"], self.kwargs["task_id"]
        if identifiers_valid(service=service, task_id=task_id):  # else refused before any I/O
            return [task_cache_key(self.kwargs["project"], service, task_id)]
        return []


_TASK_ERRORS = error_responses(*PROJECT, "invalid", *UPSTREAM)


@extend_schema(
    tags=["tasks"],
    summary="A task, with its normalised ROI and where the data came from",
    description=(
        "Served from the cache while fresh, else fetched (and a new snapshot stored when it "
        "changed). When the upstream fails and a copy exists the answer is still 200, with "
        "`meta.source` = `stale` and `meta.error`. `refresh=true` bypasses the cache and is rate "
        "limited per user (PORTAL_REFRESH_RATE, shared with the page's refresh button)."
    ),
    parameters=[*TASK_PARAMS, s.TaskQuerySerializer, RETRY_AFTER],
    responses={
        200: OpenApiResponse(s.TaskResultSerializer, examples=[TASK_EXAMPLE, STALE_EXAMPLE]),
        **_TASK_ERRORS,
    },
)
class TaskDetailView(_TaskView):
    def get(self, request: Request, project, service, task_id) -> HttpResponse:
        # The cached JSON as it is, not decoded and encoded again (see TaskResult).
        result = self.fetch(request, service, task_id)
        return HttpResponse(result.as_json(), content_type="application/json")


@extend_schema(
    tags=["tasks"],
    summary="A task's normalised ROI only",
    parameters=[*TASK_PARAMS, s.TaskQuerySerializer, RETRY_AFTER],
    responses={200: s.RoiSerializer, **_TASK_ERRORS},
)
class TaskRoiView(_TaskView):
    def get(self, request: Request, project, service, task_id) -> HttpResponse:
        result = self.fetch(request, service, task_id)
        return HttpResponse(result.roi_json(), content_type="application/json")

    @extend_schema(
        summary="Replace the task's ROI upstream (admins)",
        description=(
            "Validates the shapes (400 `invalid_roi` with `problems`), refetches the task and, "
            "unless it changed since `expected_snapshot_id` (409 `version_conflict`), sends "
            "UpdateTask with only `service_config.common.target_roi` replaced; every other field "
            "as the upstream showed it (secrets included, never the mask). 200 with the new task "
            "JSON. Audited with the ROI before and after."
        ),
        request=s.RoiUpdateSerializer,
        responses={
            200: s.TaskResultSerializer,
            **error_responses(*ADMIN, *WRITE, "invalid_roi", "version_conflict", *UPSTREAM),
        },
    )
    def put(self, request: Request, project, service, task_id) -> HttpResponse:
        project = self.get_project(admin=True)
        body = s.RoiUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = task_roi_update(
            actor=request.user,
            project=project,
            service=service,
            task_id=task_id,
            shapes=body.validated_data["shapes"],
            expected_snapshot_id=body.validated_data["expected_snapshot_id"],
        )
        return HttpResponse(result.as_json(), content_type="application/json")


class ImageBodyParser(BaseParser):
    """A raw JPEG or PNG body, read up to the frame limit (the content decides, not the type)."""

    media_type = "image/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return read_capped(stream)


def read_capped(stream) -> bytes:
    data = stream.read(frames.MAX_BYTES + 1) if stream is not None else b""
    if len(data) > frames.MAX_BYTES:
        raise frames.InvalidImage(
            reason="too_large", params={"mib": frames.MAX_BYTES // (1024 * 1024)}
        )
    return data


@extend_schema(tags=["tasks"], parameters=TASK_PARAMS)
class TaskFrameView(ProjectScopedMixin, APIView):
    """The task's reference still: GET (members), PUT and DELETE (admins)."""

    parser_classes = [ImageBodyParser, MultiPartParser]

    @extend_schema(
        summary="The task's reference still (members; `Cache-Control: private`)",
        responses={(200, "image/png"): OpenApiTypes.BINARY, **error_responses(*PROJECT)},
    )
    def get(self, request: Request, project, service, task_id) -> HttpResponseBase:
        frame = frames.frame_get(project=self.get_project(), service=service, task_id=task_id)
        if frame is None:
            raise NotFound(reason="frame")
        response = FileResponse(frame.image.open("rb"), content_type=frame.content_type)
        # A camera image of real people: no shared cache may keep it.
        response["Cache-Control"] = "private, max-age=0, must-revalidate"
        response["Content-Disposition"] = f'inline; filename="frame-{task_id}.{frame.extension}"'
        return response

    @extend_schema(
        summary="Upload or replace the reference still (admins; JPEG or PNG, ≤ 10 MiB)",
        description=(
            "The body is the image (or a multipart field `image`). At most 10 MiB and 8,192 px "
            "a side; the format is read from the bytes. The stored copy is re-encoded without "
            "metadata (no EXIF, GPS or ICC). 201 when new, 200 when replaced."
        ),
        request={"image/*": OpenApiTypes.BINARY, "multipart/form-data": OpenApiTypes.OBJECT},
        responses={
            200: s.FrameInfoSerializer,
            201: s.FrameInfoSerializer,
            **error_responses(*ADMIN, "invalid_image", *UPSTREAM),
        },
    )
    def put(self, request: Request, project, service, task_id) -> Response:
        project = self.get_project(admin=True)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > frames.MAX_BYTES + 64 * 1024:  # refused before the body is read
            read_capped(io.BytesIO(b"x" * (frames.MAX_BYTES + 1)))
        content_type = request.content_type or ""
        if content_type.startswith("multipart/"):
            upload = request.data.get("image")
            if upload is None or not hasattr(upload, "read"):
                raise frames.InvalidImage(reason="no_field")
            if upload.size > frames.MAX_BYTES:
                read_capped(io.BytesIO(b"x" * (frames.MAX_BYTES + 1)))
            data = read_capped(upload)
        else:
            data = read_capped(request.stream)
        frame, created = frames.frame_put(
            actor=request.user, project=project, service=service, task_id=task_id, data=data
        )
        return Response(
            s.FrameInfoSerializer(frames.frame_info(frame)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Delete the reference still (admins)",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(*ADMIN)},
    )
    def delete(self, request: Request, project, service, task_id) -> Response:
        deleted = frames.frame_delete(
            actor=request.user,
            project=self.get_project(admin=True),
            service=service,
            task_id=task_id,
        )
        if not deleted:
            raise NotFound(reason="frame")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["tasks"], parameters=TASK_PARAMS)
class TaskWatchView(ProjectScopedMixin, APIView):
    def _set(self, request: Request, service: str, task_id: str, watched: bool) -> Response:
        tracked = task_watch(
            actor=request.user,
            project=self.get_project(admin=True),
            service=service,
            task_id=task_id,
            watched=watched,
        )
        return Response(s.TrackedTaskSerializer(tracked).data)

    @extend_schema(
        summary="Watch the task: poll_tasks refreshes it (admins)",
        request=None,
        responses={200: s.TrackedTaskSerializer, **error_responses(*ADMIN, *UPSTREAM)},
    )
    def put(self, request: Request, project, service, task_id) -> Response:
        return self._set(request, service, task_id, True)

    @extend_schema(
        summary="Stop watching the task (admins)",
        request=None,
        responses={200: s.TrackedTaskSerializer, **error_responses(*ADMIN, *UPSTREAM)},
    )
    def delete(self, request: Request, project, service, task_id) -> Response:
        return self._set(request, service, task_id, False)


_ACTION_ERRORS = {
    **error_responses(*ADMIN, *UPSTREAM),
    409: OpenApiResponse(
        s.ErrorSerializer,
        description="`invalid_state`: the action makes no sense in the task's state (nothing "
        "was sent upstream); `credentials_unavailable`.",
    ),
}


def _action_view(action: str, summary: str):
    run = task_start if action == "start" else task_stop

    @extend_schema(
        tags=["tasks"],
        summary=summary,
        description=(
            "Calls the upstream, then refetches the task (a new snapshot): 202 with the task "
            "JSON. A state from which the action makes no sense is 409 `invalid_state` without "
            "any upstream call. Audited."
        ),
        parameters=TASK_PARAMS,
        request=None,
        responses={202: s.TaskResultSerializer, **_ACTION_ERRORS},
    )
    class TaskActionView(ProjectScopedMixin, APIView):
        def post(self, request: Request, project, service, task_id) -> HttpResponse:
            result = run(
                actor=request.user,
                project=self.get_project(admin=True),
                service=service,
                task_id=task_id,
            )
            return HttpResponse(result.as_json(), content_type="application/json", status=202)

    TaskActionView.__name__ = TaskActionView.__qualname__ = f"Task{action.title()}View"
    return TaskActionView


TaskStartView = _action_view("start", "Start the task (admins)")
TaskStopView = _action_view("stop", "Stop the task (admins)")


class _TrackedMixin(ProjectScopedMixin):
    def get_tracked(self) -> TrackedTask:
        project = self.get_project()
        service, task_id = self.kwargs["service"], self.kwargs["task_id"]
        validate_identifiers(service=service, task_id=task_id)
        return selectors.tracked_task_get(project=project, service=service, task_id=task_id)


_SNAPSHOT_ERRORS = error_responses(*PROJECT, "invalid_task_id", "invalid_service")


@extend_schema(
    tags=["snapshots"],
    summary="A task's stored versions, newest first",
    parameters=TASK_PARAMS,
    responses={200: s.SnapshotSerializer(many=True), **_SNAPSHOT_ERRORS},
)
class SnapshotListView(_TrackedMixin, generics.ListAPIView):
    serializer_class = s.SnapshotSerializer
    pagination_class = LazyPagination
    #: A serialised page is kept this long, under a key that changes with every new version,
    #: re-sighting (`last_fetched`) and prune (the count).
    PAGE_TTL = 300

    def get_queryset(self):
        if _fake(self):
            return TaskSnapshot.objects.none()
        self.tracked = self.get_tracked()
        return selectors.snapshot_list(tracked=self.tracked)

    def list(self, request: Request, *args, **kwargs) -> Response:
        rows = self.paginate_queryset(self.get_queryset())  # no query: the count is stored
        page = self.paginator.page  # type: ignore[union-attr]
        key = (
            f"snapshot-page:{self.tracked.history_version}:{page.number}:{page.paginator.per_page}"
        )
        data = cache.get(key)
        if data is None:
            data = self.get_serializer(rows, many=True).data
            cache.set(key, data, self.PAGE_TTL)
        return self.get_paginated_response(data)


@extend_schema(
    tags=["snapshots"],
    summary="One stored version, with its payload and what changed from the previous one",
    parameters=[
        *TASK_PARAMS,
        OpenApiParameter("snapshot", OpenApiTypes.INT, OpenApiParameter.PATH),
    ],
    responses={200: s.SnapshotDetailSerializer, **_SNAPSHOT_ERRORS},
)
class SnapshotDetailView(_TrackedMixin, APIView):
    def get(self, request: Request, project, service, task_id, snapshot) -> Response:
        found = selectors.snapshot_get(tracked=self.get_tracked(), snapshot_id=snapshot)
        return Response(s.SnapshotDetailSerializer(found).data)
