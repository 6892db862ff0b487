"""The monitor's API: channels, events, mute, metrics. Thin views over the services the pages
call; the project is resolved through tasks.access first (outsiders 404, viewers 403 on writes)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks.api.schema import ADMIN, COMMON, PROJECT, UPSTREAM, WRITE, error_responses
from tasks.api.serializers import StrictSerializer
from tasks.api.views import PROJECT_PARAM, TASK_PARAMS, ProjectScopedMixin, _fake
from tasks.models import (
    Channel,
    ChannelKind,
    ChannelLanguage,
    EventKind,
    Notification,
    Severity,
    TaskEvent,
)
from tasks.services import channels as channel_services
from tasks.services.metrics import metrics_render
from tasks.services.watch import task_mute

CHANNEL_PARAM = OpenApiParameter("channel", OpenApiTypes.INT, OpenApiParameter.PATH)


class ChannelSerializer(serializers.ModelSerializer):
    """A channel as read: never its target, only the hint."""

    has_headers = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "target_hint",
            "has_headers",
            "severities",
            "language",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_headers(self, channel: Channel) -> bool:
        return bool(channel.headers_enc)


class ChannelWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=ChannelKind.choices, required=False)
    target = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=2000,
        trim_whitespace=True,
        help_text="The URL, the addresses or the Apprise URL: a secret, never sent back.",
    )
    headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        allow_null=True,
        write_only=True,
        help_text="Webhook only: extra request headers (secret, never sent back).",
    )
    severities = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.choices), required=False
    )
    language = serializers.ChoiceField(choices=ChannelLanguage.choices, required=False)
    enabled = serializers.BooleanField(required=False)

    def plain(self) -> dict:
        return {k: v for k, v in self.validated_data.items() if k not in ("target", "headers")}


class ChannelTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class DeliverySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.name")

    class Meta:
        model = Notification
        fields = ["channel", "status", "attempts", "sent_at", "last_error"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    notifications = DeliverySerializer(many=True, read_only=True)
    # `from` is a Python keyword: declared through the class namespace.
    locals()["from"] = serializers.CharField(source="from_state", read_only=True)
    to = serializers.CharField(source="to_state", read_only=True)

    class Meta:
        model = TaskEvent
        fields = [
            "id",
            "kind",
            "severity",
            "service",
            "task_id",
            "task_name",
            "from",
            "to",
            "changes",
            "error_code",
            "seen_at",
            "problem_since",
            "problem_seconds",
            "notifications",
        ]
        read_only_fields = fields


class EventQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EventKind.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    service = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", required=False)
    task_id = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", required=False)


class MuteSerializer(StrictSerializer):
    until = serializers.DateTimeField(help_text="At most 30 days ahead.")


class MuteAnswerSerializer(serializers.Serializer):
    until = serializers.DateTimeField()


_CHANNEL_WRITE = error_responses(*ADMIN, *WRITE, "invalid_channel")


@extend_schema(tags=["monitor"], parameters=[PROJECT_PARAM])
class ChannelListView(ProjectScopedMixin, generics.ListAPIView):
    serializer_class = ChannelSerializer

    def get_queryset(self):
        if _fake(self):
            return Channel.objects.none()
        return Channel.objects.filter(project=self.get_project()).order_by("name", "id")

    @extend_schema(
        summary="The project's notification channels (names, kinds and hints)",
        responses={200: ChannelSerializer(many=True), **error_responses(*PROJECT)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Add a channel (admins)",
        request=ChannelWriteSerializer,
        responses={201: ChannelSerializer, **_CHANNEL_WRITE},
    )
    def post(self, request: Request, project) -> Response:
        project = self.get_project(admin=True)
        body = ChannelWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        channel = channel_services.channel_create(
            actor=request.user,
            project=project,
            fields=body.plain(),
            target=body.validated_data.get("target") or "",
            headers=body.validated_data.get("headers"),
        )
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)


class _ChannelMixin(ProjectScopedMixin):
    def get_channel(self, *, admin: bool = False) -> Channel:
        project = self.get_project(admin=admin)
        channel = Channel.objects.filter(project=project, pk=self.kwargs["channel"]).first()
        if channel is None:
            raise Http404(_("No such channel."))
        return channel


@extend_schema(tags=["monitor"], parameters=[PROJECT_PARAM, CHANNEL_PARAM])
class ChannelDetailView(_ChannelMixin, APIView):
    @extend_schema(
        summary="One channel", responses={200: ChannelSerializer, **error_responses(*PROJECT)}
    )
    def get(self, request: Request, project, channel) -> Response:
        return Response(ChannelSerializer(self.get_channel()).data)

    @extend_schema(
        summary="Change a channel (admins; a blank or absent target keeps the stored one)",
        request=ChannelWriteSerializer(partial=True),
        responses={200: ChannelSerializer, **_CHANNEL_WRITE},
    )
    def patch(self, request: Request, project, channel) -> Response:
        found = self.get_channel(admin=True)
        body = ChannelWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        found = channel_services.channel_update(
            actor=request.user,
            channel=found,
            fields=body.plain(),
            target=body.validated_data.get("target") or None,
            headers=body.validated_data.get("headers"),
        )
        return Response(ChannelSerializer(found).data)

    @extend_schema(
        summary="Delete a channel (admins)",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(*ADMIN)},
    )
    def delete(self, request: Request, project, channel) -> Response:
        channel_services.channel_delete(actor=request.user, channel=self.get_channel(admin=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["monitor"],
    summary="Send a test message now (admins); a failed send is `ok: false`, not an error",
    parameters=[PROJECT_PARAM, CHANNEL_PARAM],
    request=None,
    responses={200: ChannelTestSerializer, **error_responses(*ADMIN)},
)
class ChannelTestView(_ChannelMixin, APIView):
    def post(self, request: Request, project, channel) -> Response:
        ok, message = channel_services.channel_test(
            actor=request.user, channel=self.get_channel(admin=True)
        )
        return Response({"ok": ok, "message": message})


@extend_schema(
    tags=["monitor"],
    summary="The project's events, newest first, with their deliveries",
    parameters=[PROJECT_PARAM, EventQuerySerializer],
    responses={200: EventSerializer(many=True), **error_responses(*PROJECT, "invalid")},
)
class EventListView(ProjectScopedMixin, generics.ListAPIView):
    serializer_class = EventSerializer

    def get_queryset(self):
        if _fake(self):
            return TaskEvent.objects.none()
        project = self.get_project()
        query = EventQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return (
            TaskEvent.objects.filter(project=project, **query.validated_data)
            .prefetch_related("notifications__channel")
            .order_by("-seen_at", "-id")
        )


@extend_schema(tags=["monitor"], parameters=TASK_PARAMS)
class TaskMuteView(ProjectScopedMixin, APIView):
    @extend_schema(
        summary="Mute the task's notifications until a time (admins; at most 30 days ahead)",
        request=MuteSerializer,
        responses={200: MuteAnswerSerializer, **error_responses(*ADMIN, *WRITE, *UPSTREAM)},
    )
    def put(self, request: Request, project, service, task_id) -> Response:
        project = self.get_project(admin=True)
        body = MuteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tracked = task_mute(
            actor=request.user,
            project=project,
            service=service,
            task_id=task_id,
            until=body.validated_data["until"],
        )
        return Response(MuteAnswerSerializer({"until": tracked.muted_until}).data)

    @extend_schema(
        summary="Unmute the task (admins)",
        request=None,
        responses={204: OpenApiResponse(description="Unmuted."), **error_responses(*ADMIN)},
    )
    def delete(self, request: Request, project, service, task_id) -> Response:
        task_mute(
            actor=request.user,
            project=self.get_project(admin=True),
            service=service,
            task_id=task_id,
            until=None,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class _IgnoreAccept(BaseContentNegotiation):
    """The view answers its own text and errors as JSON: a scraper's Accept header
    (`application/openmetrics-text…`) must not make DRF refuse with 406."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(
    tags=["monitor"],
    summary="Prometheus metrics of the projects you can see (text exposition format)",
    responses={
        (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR),
        **error_responses(*COMMON),
    },
)
class MetricsView(APIView):
    content_negotiation_class = _IgnoreAccept

    def get(self, request: Request) -> HttpResponse:
        body, content_type = metrics_render(user=request.user)
        return HttpResponse(body, content_type=content_type)
