"""What the API reads and writes. Input serializers only type and shape the input (unknown fields
are refused); the rules live in the services the pages call too. Secrets are write-only: no output
serializer has a field that could carry one."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks.errors import stored_text
from tasks.models import CloudProject, Membership, Role, TaskSnapshot, TrackedTask
from tasks.selectors import snapshot_changes
from tasks.services.projects import PLAIN_FIELDS
from tasks.services.tokens import MAX_EXPIRY_DAYS

SECRET_FIELDS = CloudProject.SECRET_FIELDS


class StrictMixin:
    """Refuses fields it does not know (a typo must not be silently ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {str(name)[:100]: [_("Unknown field.")] for name in unknown[:20]}
                )
        return super().to_internal_value(data)


class StrictSerializer(StrictMixin, serializers.Serializer):
    pass


# ---- errors (documentation only: tasks.api.errors writes these) ---------------------------------


class UpstreamErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField(allow_null=True)
    error_code = serializers.CharField(allow_null=True)
    error_msg = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(allow_null=True)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code (see the error table).")
    message = serializers.CharField(help_text="What happened and what to do.")
    details = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Validation errors by field name (code `invalid` only).",
    )
    upstream = UpstreamErrorSerializer(
        required=False, help_text="What the VAS upstream said (upstream errors only)."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# ---- tokens --------------------------------------------------------------------------------------


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key, shown only in this answer.")
    expiry = serializers.DateTimeField(allow_null=True)


class TokenRequestSerializer(StrictSerializer):
    expires_days = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_EXPIRY_DAYS, help_text="Default 30 days."
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    otp = serializers.CharField(
        required=False,
        max_length=32,
        help_text=(
            "For a user with two-factor login: the current code of their authenticator app, or "
            "one of their recovery codes (else 401 `otp_required` / `otp_invalid`)."
        ),
    )


# ---- projects ------------------------------------------------------------------------------------


class CheckSerializer(serializers.Serializer):
    """A project's last connection test (`last_check`, and the answer of `POST …/check/`)."""

    ok = serializers.BooleanField(source="last_check_ok", allow_null=True)
    message = serializers.SerializerMethodField()
    checked_at = serializers.DateTimeField(source="last_check_at", allow_null=True)

    def get_message(self, project: CloudProject) -> str:
        # Stored as code and params; worded here, in the request's language.
        return stored_text(project.last_check_result)


class ProjectSerializer(serializers.ModelSerializer):
    """A project as read: settings, hints and `has_*` flags, never a secret value."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    access_key_hint = serializers.CharField(
        source="access_key_display", read_only=True, help_text="`AK ••••1234`, or empty."
    )
    has_secret_key = serializers.SerializerMethodField()
    has_security_token = serializers.SerializerMethodField()
    has_password = serializers.SerializerMethodField()
    has_token = serializers.SerializerMethodField()
    last_check = CheckSerializer(source="*", read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = CloudProject
        fields = [
            "id",
            "name",
            "description",
            "region",
            "upstream_project_id",
            "endpoint",
            "iam_endpoint",
            "vias_endpoint",
            "auth_type",
            "default_service",
            "cache_ttl",
            "poll_interval",
            "access_key_hint",
            "has_secret_key",
            "has_security_token",
            "iam_domain",
            "iam_user",
            "has_password",
            "has_token",
            "token_expires_at",
            "last_check",
            "role",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_secret_key(self, project: CloudProject) -> bool:
        return project.has_secret("secret_key")

    def get_has_security_token(self, project: CloudProject) -> bool:
        return project.has_secret("security_token")

    def get_has_password(self, project: CloudProject) -> bool:
        return project.has_secret("iam_password")

    def get_has_token(self, project: CloudProject) -> bool:
        return project.has_secret("token")

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices))
    def get_role(self, project: CloudProject) -> str | None:
        request = self.context.get("request")
        if request is not None and request.user.is_superuser:
            return Role.ADMIN
        return getattr(project, "role", None) or getattr(project, "user_role", None)


class _SecretField(serializers.CharField):
    """Write-only; `null` removes the stored value, a blank string keeps it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("max_length", 4096)
        kwargs.setdefault("trim_whitespace", True)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


class ProjectWriteSerializer(StrictMixin, serializers.ModelSerializer):
    """Plain settings plus write-only secrets. Only the types are checked here; what a valid
    project is (endpoints on the allow list, the credentials an auth type needs, unique name) is
    project_create / project_update's to say."""

    access_key = _SecretField(help_text="Write-only.")
    secret_key = _SecretField(help_text="Write-only.")
    security_token = _SecretField(help_text="Write-only; temporary (STS) credentials only.")
    iam_password = _SecretField(help_text="Write-only.")
    token = _SecretField(help_text="Write-only X-Auth-Token.")
    updated_at = serializers.DateTimeField(
        required=False,
        write_only=True,
        help_text=(
            "PATCH only, optional: the `updated_at` you read. When the project changed since, "
            "the PATCH is refused with 409 `edit_conflict` (so is a stale `If-Match` header)."
        ),
    )

    class Meta:
        model = CloudProject
        fields = [*PLAIN_FIELDS, *SECRET_FIELDS, "updated_at"]
        extra_kwargs = {
            # Uniqueness is the service's to check (one rule, one place).
            "name": {"validators": []},
            "endpoint": {"required": False, "allow_blank": True},
            "iam_endpoint": {"required": False, "allow_blank": True},
            "vias_endpoint": {"required": False, "allow_blank": True},
        }

    def plain(self) -> dict[str, Any]:
        return {f: v for f, v in self.validated_data.items() if f in PLAIN_FIELDS}

    def secrets(self) -> dict[str, str]:
        return {f: v for f, v in self.validated_data.items() if f in SECRET_FIELDS and v}

    def cleared(self) -> set[str]:
        return {f for f, v in self.validated_data.items() if f in SECRET_FIELDS and v is None}


# ---- members -------------------------------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role"]
        read_only_fields = fields


class MemberAddSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class MemberRoleSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


# ---- tasks ---------------------------------------------------------------------------------------


class FrameSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    assumed = serializers.BooleanField(
        help_text="Always true: the API does not give the camera's resolution."
    )


class ShapeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["polygon", "line"])
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    )
    name = serializers.CharField(required=False)
    properties = serializers.DictField(required=False)


class ProblemSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class DetectionSerializer(serializers.Serializer):
    min_size = serializers.FloatField(required=False)
    max_size = serializers.FloatField(required=False)


class RoiSerializer(serializers.Serializer):
    frame = FrameSerializer()
    shapes = ShapeSerializer(many=True)
    whole_frame = serializers.BooleanField(
        help_text="No region restriction: an absent or empty `target_roi`."
    )
    detection = DetectionSerializer()
    problems = ProblemSerializer(many=True)


class TaskMetaErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class TaskMetaSerializer(serializers.Serializer):
    # A field named like Field.source: fine at run time, a clash for the stubs.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["upstream", "cache", "stale", "snapshot"]
    )
    fetched_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.IntegerField(allow_null=True)
    snapshot_id = serializers.IntegerField(allow_null=True)
    upstream_request_id = serializers.CharField(allow_null=True, allow_blank=True)
    error = TaskMetaErrorSerializer(
        allow_null=True, help_text="Why the copy is stale (`source` = `stale`), else null."
    )


class TaskResultSerializer(serializers.Serializer):
    task = serializers.DictField(
        help_text="The upstream task object, secrets redacted, fields as upstream named them."
    )
    roi = RoiSerializer()
    meta = TaskMetaSerializer()


class TaskQuerySerializer(serializers.Serializer):
    refresh = serializers.BooleanField(
        default=False, help_text="Bypass the cache (rate limited per user)."
    )


class UpstreamTaskSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True, allow_blank=True)
    state = serializers.CharField(allow_null=True, allow_blank=True)
    service_version = serializers.CharField(allow_null=True, allow_blank=True)
    created_at = serializers.JSONField(allow_null=True)
    updated_at = serializers.JSONField(allow_null=True)


class TaskListMetaSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=["upstream", "cache"])  # type: ignore[assignment]
    fetched_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.IntegerField(allow_null=True)


class UpstreamTaskListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    tasks = UpstreamTaskSerializer(many=True)
    meta = TaskListMetaSerializer()


class ViasTaskSerializer(serializers.Serializer):
    """A VIAS list row: the list's own fields, as the upstream gave them (`type` may be
    `cloud`/`edge` or `0`/`1`)."""

    id = serializers.JSONField(allow_null=True)
    name = serializers.JSONField(allow_null=True)
    state = serializers.JSONField(allow_null=True)
    type = serializers.JSONField(allow_null=True)
    video_source_name = serializers.JSONField(allow_null=True)
    title = serializers.JSONField(allow_null=True, help_text="The algorithm's name.")
    algorithm_publish_id = serializers.JSONField(allow_null=True)
    service_id = serializers.JSONField(allow_null=True)
    created_at = serializers.JSONField(allow_null=True)


class ViasTaskListMetaSerializer(TaskListMetaSerializer):
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    has_more = serializers.BooleanField(help_text="Whether another page follows.")


class ViasTaskListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="The number of tasks on this page (no total).")
    tasks = ViasTaskSerializer(many=True)
    meta = ViasTaskListMetaSerializer()


class UpstreamTaskQuerySerializer(serializers.Serializer):
    state = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(required=False, max_length=255, help_text="Name contains.")
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=1_000_000)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


class ViasTaskQuerySerializer(serializers.Serializer):
    """The VIAS list's query: VIAS pages by number (`count` is the number of tasks on the page)."""

    state = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(required=False, max_length=255, help_text="Name contains.")
    camera = serializers.CharField(required=False, max_length=255, help_text="Camera name.")
    algorithm = serializers.CharField(
        required=False, max_length=64, help_text="Algorithm name (VIAS `title`)."
    )
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=100_000)
    page_size = serializers.IntegerField(required=False, default=20, min_value=5, max_value=100)


class TrackedTaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrackedTask
        fields = [
            "service",
            "task_id",
            "name",
            "state",
            "watched",
            "gone_at",
            "first_seen",
            "last_fetched",
            "last_changed",
        ]
        read_only_fields = fields


class TrackedTaskQuerySerializer(serializers.Serializer):
    state = serializers.CharField(required=False, max_length=32)
    service = serializers.CharField(required=False, max_length=64)
    watched = serializers.BooleanField(required=False, allow_null=True, default=None)


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskSnapshot
        fields = [
            "id",
            "seq",
            "state",
            "content_hash",
            "upstream_updated_at",
            "upstream_request_id",
            "first_seen",
            "last_seen",
            "times_seen",
        ]
        read_only_fields = fields


class ChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class SnapshotDetailSerializer(SnapshotSerializer):
    payload = serializers.DictField(help_text="The task as upstream sent it, secrets redacted.")
    changes = serializers.SerializerMethodField()

    class Meta(SnapshotSerializer.Meta):
        fields = [*SnapshotSerializer.Meta.fields, "payload", "changes"]
        read_only_fields = fields

    @extend_schema_field(ChangeSerializer(many=True))
    def get_changes(self, snapshot: TaskSnapshot) -> list[dict[str, Any]]:
        return snapshot_changes(snapshot=snapshot)


class RoiUpdateSerializer(serializers.Serializer):
    shapes = serializers.ListField(
        child=serializers.JSONField(),
        max_length=1000,
        help_text="The shapes in the normalised form of GET …/roi/ (`kind`, `points`, `name`, "
        "`properties`); [] is the whole frame.",
    )
    expected_snapshot_id = serializers.IntegerField(
        min_value=1, help_text="`meta.snapshot_id` of the task the change was made on."
    )


class FrameInfoSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    uploaded_at = serializers.DateTimeField()
    uploaded_by = serializers.CharField(allow_null=True)
