"""Django admin: settings and members, never a secret (only hints and "stored" flags)."""

from django.contrib import admin

from tasks.models import AuditEvent, CloudProject, Membership, TrackedTask
from tasks.services.projects import SECRETS_FOLLOW


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(CloudProject)
class CloudProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "auth_type", "access_key_display", "last_check_ok"]
    search_fields = ["name", "upstream_project_id"]
    # The encrypted columns are editable=False, so no admin form ever holds them; credentials are
    # replaced on the portal's own edit page, through the service that audits it.
    # Where the secrets go is read-only here too: a move needs the credentials again, which only
    # the portal's edit page and API ask for (tasks.services.projects.SECRETS_FOLLOW).
    readonly_fields = [
        "public_id",
        "access_key_display",
        "stored_secrets",
        "credentials_version",
        *SECRETS_FOLLOW,
    ]
    inlines = [MembershipInline]

    @admin.display(description="stored secrets")
    def stored_secrets(self, project: CloudProject) -> str:
        return ", ".join(f for f in CloudProject.SECRET_FIELDS if project.has_secret(f)) or "none"


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_username", "project_name", "action"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(TrackedTask)
class TrackedTaskAdmin(admin.ModelAdmin):
    list_display = ["task_id", "service", "project", "name", "state", "watched", "last_fetched"]
    list_filter = ["watched", "state"]
