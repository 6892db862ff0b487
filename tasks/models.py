"""Cloud projects, who may use them, the tasks fetched through them, and what was done."""

import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken

from tasks import crypto
from tasks.errors import CredentialsUnavailable
from tasks.vas.endpoints import REGIONS, default_vias_endpoint

UPSTREAM_PROJECT_ID = RegexValidator(
    r"^[A-Za-z0-9-]{1,64}$",
    _("A project id is 1–64 letters, digits or hyphens (Huawei issues 32 hex digits)."),
)
SERVICE_NAME = RegexValidator(
    r"^[A-Za-z0-9_-]{1,64}$", _("A service name is 1–64 letters, digits, '_' or '-'.")
)


def default_cache_ttl() -> int:
    return settings.PORTAL_DEFAULT_CACHE_TTL


def new_badge_key() -> str:
    """An unguessable key for a project's status badges (tasks.services.badges): 192 random bits."""
    return secrets.token_urlsafe(24)


class AuthType(models.TextChoices):
    AKSK = "aksk", _("Access key / secret key")
    PASSWORD = "password", _("IAM user and password")
    TOKEN = "token", _("Static X-Auth-Token")


class CloudProject(models.Model):
    """One Huawei Cloud project as the portal knows it, with the credentials of one auth type.

    Secrets live only as Fernet tokens in the `*_enc` columns; `credentials()` decrypts them where a
    request is signed and fails closed, naming the project, when no configured key opens them.
    """

    SECRET_FIELDS = ("access_key", "secret_key", "security_token", "iam_password", "token")
    #: Never cached (tasks.caching.memo): a project from the cache has these deferred.
    SECRET_COLUMNS = (*(f"{field}_enc" for field in SECRET_FIELDS), "access_key_hint")

    #: The requesting user's role, set by tasks.access when it fetches the project (no column).
    role: str

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), max_length=1000, blank=True)
    region = models.CharField(
        _("region"),
        max_length=32,
        # The labels are marked in tasks.vas.endpoints and translated here, lazily.
        choices=[(code, _(label)) for code, label in REGIONS.items()],
        default="cn-north-4",
    )
    upstream_project_id = models.CharField(
        _("upstream project id"), max_length=64, validators=[UPSTREAM_PROJECT_ID]
    )
    endpoint = models.CharField(_("VAS endpoint"), max_length=255)
    iam_endpoint = models.CharField(_("IAM endpoint"), max_length=255)
    # VIAS (the successor service) is signed with the same credentials; blank: the region's.
    vias_endpoint = models.CharField(_("VIAS endpoint"), max_length=255, blank=True)
    default_service = models.CharField(
        _("default service"), max_length=64, default="c-face-edge", validators=[SERVICE_NAME]
    )
    cache_ttl = models.PositiveIntegerField(
        _("cache TTL (seconds)"),
        default=default_cache_ttl,
        validators=[MaxValueValidator(86_400)],
        help_text=_("How long a fetched task is served from cache; 0 disables caching."),
    )
    poll_interval = models.PositiveIntegerField(
        _("poll interval (seconds)"),
        default=300,
        validators=[MinValueValidator(30), MaxValueValidator(86_400)],
        help_text=_("How often the worker refreshes the project's watched tasks (30–86,400)."),
    )
    auth_type = models.CharField(
        _("authentication"), max_length=16, choices=AuthType.choices, default=AuthType.AKSK
    )
    access_key_enc = models.TextField(blank=True, editable=False)
    access_key_hint = models.CharField(max_length=8, blank=True, editable=False)
    secret_key_enc = models.TextField(blank=True, editable=False)
    security_token_enc = models.TextField(blank=True, editable=False)
    iam_domain = models.CharField(_("IAM account (domain) name"), max_length=100, blank=True)
    iam_user = models.CharField(_("IAM user name"), max_length=100, blank=True)
    iam_password_enc = models.TextField(blank=True, editable=False)
    token_enc = models.TextField(blank=True, editable=False)
    token_expires_at = models.DateTimeField(_("token expires at"), null=True, blank=True)
    # Bumped whenever any secret changes: part of every cache key, so old credentials' answers die.
    credentials_version = models.PositiveIntegerField(default=1, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    # What the last connection test found, as data (tasks.errors: code, params and what the
    # upstream said), worded in the reader's language when shown.
    last_check_result = models.JSONField(default=dict, blank=True, editable=False)
    last_check_at = models.DateTimeField(null=True, editable=False)
    # In the status badges' URLs (/badge/<key>/…): whoever holds it sees only state words. Not a
    # credential, but rotated by an admin when a URL leaked too far (tasks.services.badges).
    badge_key = models.CharField(max_length=64, unique=True, default=new_badge_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<CloudProject {self.public_id} {self.name!r} auth={self.auth_type}>"

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # Touching one deferred secret column loads all of them in one query, not one each.
        if fields is not None and set(fields) & set(self.SECRET_COLUMNS):
            fields = [*fields, *(self.get_deferred_fields() & set(self.SECRET_COLUMNS))]
            fields = list(dict.fromkeys(fields))
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    def has_secret(self, field: str) -> bool:
        return bool(getattr(self, f"{field}_enc"))

    def set_secret(self, field: str, value: str) -> None:
        """Stores (or with "" clears) one secret, encrypted; the caller bumps the version."""
        if field not in self.SECRET_FIELDS:
            raise ValueError(f"not a secret field: {field}")
        setattr(self, f"{field}_enc", crypto.encrypt(value) if value else "")
        if field == "access_key":
            self.access_key_hint = value[-4:] if len(value) >= 8 else ""

    def credentials(self) -> dict[str, str]:
        """The decrypted secrets that are set. Raises CredentialsUnavailable, naming the project and
        never the ciphertext, when a stored secret cannot be opened by any configured key."""
        values: dict[str, str] = {}
        for field in self.SECRET_FIELDS:
            token = getattr(self, f"{field}_enc")
            if not token:
                continue
            try:
                values[field] = crypto.decrypt(token)
            except crypto.InvalidToken:
                raise CredentialsUnavailable(
                    reason="undecryptable", params={"name": self.name}
                ) from None
        return values

    @property
    def vias_endpoint_or_default(self) -> str:
        """Where VIAS calls go: the VIAS endpoint set, else the region's default."""
        return self.vias_endpoint or default_vias_endpoint(self.region)

    @property
    def access_key_display(self) -> str:
        if not self.access_key_enc:
            return ""
        return f"AK ••••{self.access_key_hint}" if self.access_key_hint else "AK ••••"


class Role(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    ADMIN = "admin", _("Admin")


class Membership(models.Model):
    """A user's role on a project. Superusers are admins everywhere without a row."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(CloudProject, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="one_membership_per_user")
        ]
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class AuditEvent(models.Model):
    """Who did what to a project. Details never hold a secret: replaced ones read "changed"."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_username = models.CharField(max_length=150, blank=True)
    project = models.ForeignKey(
        CloudProject, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    project_name = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=64)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Recent events of a project", on the project page.
            models.Index(fields=["project", "-created_at"], name="audit_project_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"


class TrackedTask(models.Model):
    """A (project, service, task id) the portal has fetched at least once."""

    project = models.ForeignKey(
        CloudProject, on_delete=models.CASCADE, related_name="tracked_tasks"
    )
    service = models.CharField(max_length=64)
    task_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=32, blank=True)
    watched = models.BooleanField(default=False)
    # Set when the upstream answered 404 for the task: its history stays.
    gone_at = models.DateTimeField(null=True, blank=True)
    # Maintenance: events are still recorded, notifications are not created before this time.
    muted_until = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_fetched = models.DateTimeField()
    last_changed = models.DateTimeField()
    # How many snapshots the task has: the history's paginators read it instead of a COUNT(*)
    # that grows with the history. Kept in step, in the transaction that adds or deletes rows, by
    # the only writers of snapshots: tasks.services.snapshots (record adds one, prune recounts).
    snapshot_count = models.PositiveIntegerField(default=0, editable=False)
    # What needs an admin's attention in the newest version's payload, as space-separated codes
    # ("roi:too_few_points webhook_not_https"; "" = nothing): worked out once per new version by
    # tasks.services.attention.payload_problem_codes, so "needs attention" reads no payloads.
    payload_problems = models.CharField(max_length=500, blank=True, default="", editable=False)
    # The reference still's size (TaskFrame), kept in step by tasks.services.frames: every fetch
    # reads this row anyway, so the ROI's real frame costs no query of its own.
    frame_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    frame_height = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "service", "task_id"], name="one_tracked_task_per_id"
            )
        ]
        indexes = [
            # "Recently fetched tasks of a project", on the project page and the tracked-task API.
            models.Index(fields=["project", "-last_fetched"], name="tracked_recent"),
            # poll_tasks: "every watched task".
            models.Index(
                fields=["watched"], name="tracked_watched", condition=models.Q(watched=True)
            ),
            # The dashboard (tasks.services.dashboard): "counts per state of each project" (GROUP
            # BY project, state: an index-only scan with the columns it filters on included) and
            # "the problems" (state IN the problem states).
            models.Index(
                fields=["project", "state"],
                include=["watched", "last_fetched", "gone_at"],
                name="tracked_project_state",
            ),
            # Needs attention (tasks.services.attention): "the tasks whose newest version has a
            # problem", a few among many.
            models.Index(
                fields=["project"],
                name="tracked_payload_problems",
                condition=~models.Q(payload_problems=""),
            ),
            # Needs attention: "muted tasks whose mute has ended" (muted ones are few).
            models.Index(
                fields=["project", "muted_until"],
                name="tracked_muted",
                condition=models.Q(muted_until__isnull=False),
            ),
        ]
        ordering = ["-last_fetched"]

    def __str__(self) -> str:
        return f"{self.service}/{self.task_id}"

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the task's reference still, or None."""
        if self.frame_width and self.frame_height:
            return (self.frame_width, self.frame_height)
        return None

    @property
    def history_version(self) -> str:
        """Changes with every new version, re-sighting (`last_fetched`) and prune (the count): the
        part of a cached history page's key (pages and API) that says which history it shows."""
        return f"{self.pk}:{self.snapshot_count}:{self.last_fetched.timestamp()}"


class TaskSnapshotQuerySet(models.QuerySet):
    def with_known_count(self, count: int) -> "TaskSnapshotQuerySet":
        """This queryset, whose `count()` answers `count` without a query. The paginators call
        `count()`: a task's history is counted by TrackedTask.snapshot_count, not a COUNT(*)
        over all its rows. Any further filter or slice is a new queryset that counts again."""
        clone = self._chain()  # type: ignore[attr-defined]
        clone._known_count = count
        return clone

    def count(self) -> int:
        known = getattr(self, "_known_count", None)
        return known if known is not None else super().count()


class TaskSnapshot(models.Model):
    """One distinct version of a task's upstream JSON (secrets redacted).

    `seq` numbers a task's versions; the unique (task, seq) pair makes two writers that saw the
    same change at once collide, so the loser re-reads and counts a sighting instead of a version.
    """

    task = models.ForeignKey(TrackedTask, on_delete=models.CASCADE, related_name="snapshots")
    seq = models.PositiveIntegerField()
    payload = models.JSONField()
    content_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=32, blank=True)
    upstream_updated_at = models.CharField(max_length=64, blank=True)
    upstream_request_id = models.CharField(max_length=128, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)

    objects = TaskSnapshotQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "seq"], name="one_snapshot_per_seq"),
        ]
        indexes = [
            # tasks.services.health.task_health_get: "a task's versions last seen inside the
            # window" (task = … AND last_seen >= start ORDER BY last_seen) and "the one just
            # before it" (last_seen < start ORDER BY last_seen DESC LIMIT 1). last_seen grows
            # with seq, so the window's rows are one contiguous range of this index.
            models.Index(fields=["task", "last_seen"], name="snapshot_task_last_seen"),
        ]
        # The unique (task, seq) index serves "newest snapshot of a task" (ORDER BY seq DESC
        # LIMIT 1), "history of a task, newest first" (ORDER BY seq DESC LIMIT page) and "a
        # page's payloads and the one before" (seq <= page's newest ORDER BY seq DESC LIMIT
        # page + 1) by a backward scan.
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"{self.task} #{self.seq}"


class ApiToken(AbstractAuthToken):
    """A REST API token (django-rest-knox's model, swapped in with KNOX_TOKEN_MODEL): only the
    digest of the key is stored; it expires, can be revoked, and remembers when it was last used.
    """

    # Typed by hand: the plugin cannot see through knox's untyped base model.
    name: "models.CharField[str, str]" = models.CharField(_("name"), max_length=100, blank=True)
    # Written at most once a minute per token (see tasks.api.authentication), not on every call.
    last_used_at: "models.DateTimeField[Any, Any]" = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        # Never the digest: the key prefix is what the user recognises.
        return f"{self.token_key[:8]}… of {self.user}"


class UserPreference(models.Model):
    """A user's own settings: the interface language chosen with the top bar's switch, applied
    on a later visit (another browser, an expired cookie) before the browser's Accept-Language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(_("language"), max_length=16, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.language or '-'})"


class PollSchedule(models.Model):
    """When the worker next polls the watched tasks of one (project, service): the due work lives
    here, so the schedule survives restarts and needs no single scheduler process.

    A worker claims a row by a conditional UPDATE that sets `claimed_until` (a lease): only one
    claim succeeds, and a worker killed mid-poll lets its lease run out so another redoes it.
    """

    project = models.ForeignKey(
        CloudProject, on_delete=models.CASCADE, related_name="poll_schedules"
    )
    service = models.CharField(max_length=64)
    next_poll_at = models.DateTimeField()
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Since when every poll of this (project, service) failed, and the last contract error code.
    failing_since = models.DateTimeField(null=True, blank=True)
    failing_code = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "service"], name="one_schedule_per_service")
        ]
        indexes = [
            # The worker's sweep: "schedules due by now".
            models.Index(fields=["next_poll_at"], name="schedule_due"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.service} at {self.next_poll_at:%H:%M:%S}"


class EventKind(models.TextChoices):
    STATE_CHANGED = "state_changed", _("State changed")
    CONFIG_CHANGED = "config_changed", _("Configuration changed")
    TASK_GONE = "task_gone", _("Task gone")
    TASK_BACK = "task_back", _("Task back")
    UPSTREAM_FAILING = "upstream_failing", _("Upstream failing")
    UPSTREAM_RECOVERED = "upstream_recovered", _("Upstream recovered")


class Severity(models.TextChoices):
    PROBLEM = "problem", _("Problem")
    RECOVERY = "recovery", _("Recovery")
    INFO = "info", _("Info")


class _TrackedTaskKey(models.ForeignKey):
    """A foreign key whose raw column is `tracked_id`, not `<name>_id`: the agreed names give an
    event both `task` (the TrackedTask) and `task_id` (the upstream task id, kept when the tracked
    task is deleted), which Django's default attname would make clash."""

    def get_attname(self) -> str:
        return "tracked_id"


class TaskEvent(models.Model):
    """A change seen by any fetch (page, API, worker), or a project's upstream failing/recovering.

    `dedupe_key` is unique: two processes that see the same change at the same moment both try
    to insert the same key and one wins, so each change is recorded exactly once.
    """

    project = models.ForeignKey(CloudProject, on_delete=models.CASCADE, related_name="events")
    task = _TrackedTaskKey(  # type: ignore[misc] # the plugin types only ForeignKey itself
        TrackedTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    service = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    task_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    changes = models.JSONField(default=list, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    status_text = models.CharField(max_length=500, blank=True)
    error_text = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    seen_at = models.DateTimeField()
    problem_since = models.DateTimeField(null=True, blank=True)
    problem_seconds = models.PositiveIntegerField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True, editable=False)

    class Meta:
        ordering = ["-seen_at", "-id"]
        indexes = [
            # The events page and API: "a project's events, newest first".
            models.Index(fields=["project", "-seen_at"], name="event_project_recent"),
            # Recovery: "the task's latest problem/recovery events".
            models.Index(fields=["task", "severity", "-seen_at"], name="event_task_severity"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.service}/{self.task_id} ({self.severity})"


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook (JSON POST)")
    EMAIL = "email", _("Email")
    APPRISE = "apprise", _("Apprise URL (DingTalk, Feishu, WeCom, Slack, Telegram, …)")


class ChannelLanguage(models.TextChoices):
    EN = "en", "English"
    ZH_HANS = "zh-hans", "简体中文"


def default_severities() -> list[str]:
    return [Severity.PROBLEM, Severity.RECOVERY]


class Channel(models.Model):
    """Where a project's notifications go. The target (URL, addresses or Apprise URL) is a secret:
    stored encrypted like the credentials, shown only as `target_hint`."""

    project = models.ForeignKey(CloudProject, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    target_enc = models.TextField(editable=False)
    target_hint = models.CharField(max_length=64, blank=True, editable=False)
    # Webhook only: extra request headers, a secret too ({"name": "value"} encrypted as JSON).
    headers_enc = models.TextField(blank=True, editable=False)
    severities = models.JSONField(_("severities"), default=default_severities)
    language = models.CharField(
        _("language"), max_length=8, choices=ChannelLanguage.choices, default=ChannelLanguage.EN
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="one_channel_name_per_project")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def target(self) -> str:
        """The decrypted target; only the sender calls this."""
        return crypto.decrypt(self.target_enc)


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Notification(models.Model):
    """One delivery of one event to one channel. Claimed by a conditional UPDATE with a lease
    before it is sent: a worker killed mid-send leaves it pending for another; `sent` is final."""

    event = models.ForeignKey(TaskEvent, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="one_delivery_per_channel")
        ]
        indexes = [
            # The worker's sweep: "pending deliveries due by now".
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due",
                condition=models.Q(status="pending"),
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.channel_id}: {self.status}"


def frame_upload_to(instance: "TaskFrame", filename: str) -> str:
    # Never the uploader's file name: a new random name per upload, grouped by project.
    return f"frames/{instance.task.project.public_id}/{uuid.uuid4().hex}.{instance.extension}"


class TaskFrame(models.Model):
    """A reference still of a task's camera: the ROI's real frame, drawn under its shapes.

    A camera image of real people: stored through the default storage (never a public URL),
    re-encoded without metadata, served to project members only, deleted with the task's
    project (the file too: tasks.signals)."""

    task = models.OneToOneField(TrackedTask, on_delete=models.CASCADE, related_name="frame")
    image = models.FileField(upload_to=frame_upload_to, max_length=255)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField(help_text="Bytes of the stored (re-encoded) image.")
    uploaded_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    uploaded_by_username = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"frame of {self.task} ({self.width}×{self.height})"

    @property
    def extension(self) -> str:
        return "jpg" if self.content_type == "image/jpeg" else "png"
