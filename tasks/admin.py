"""Django admin: settings and members, never a secret (only hints and "stored" flags).

A project is changed and deleted here through the same service as on the portal's pages and in
the API (`tasks.services.projects`): the same rules, audit trail and credentials version. Secrets
are never entered here, so projects are created on the portal's page, and the fields that decide
where the secrets go (the endpoints, auth type, region, upstream project id) are read-only: moving
a project needs its credentials again. The connect-time guard (`tasks.vas.transport`) applies to
whatever address a row holds.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from tasks.models import AuditEvent, CloudProject, Membership, TrackedTask
from tasks.services.projects import (
    PLAIN_FIELDS,
    SECRETS_FOLLOW,
    project_delete,
    project_update,
    project_validate,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class CloudProjectAdminForm(forms.ModelForm):
    """Validated by the project service, not by the model alone; saved by the service too."""

    class Meta:
        model = CloudProject
        # Where the secrets go is not editable here (see CloudProjectAdmin.readonly_fields).
        fields = [f for f in PLAIN_FIELDS if f not in SECRETS_FOLLOW]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name.endswith("endpoint"):
                # Blank means the region's default, as on the portal's form.
                field.required = False

    def service_fields(self) -> dict[str, Any]:
        """The project fields the form cleaned (a field with its own error is left out)."""
        data = self.cleaned_data
        return {name: data[name] for name in self.fields if name in PLAIN_FIELDS and name in data}

    def _post_clean(self) -> None:
        # Instead of ModelForm's construct-and-full_clean: the service validates (it runs the
        # model's checks too) and, on save, changes the project.
        try:
            project_validate(project=self.instance, fields=self.service_fields())
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field in self.fields:
                    self.add_error(field, messages)
                else:
                    # A secret the auth type needs: entered on the portal's edit page only.
                    self.add_error(
                        None,
                        [
                            _("Secret “%(name)s”: %(message)s") % {"name": field, "message": m}
                            for m in messages
                        ],
                    )


@admin.register(CloudProject)
class CloudProjectAdmin(admin.ModelAdmin):
    form = CloudProjectAdminForm
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A project needs its credentials to exist, and secrets are never entered here: projects
        # are created on the portal's own page.
        return False

    def save_model(
        self, request: HttpRequest, obj: CloudProject, form: forms.ModelForm, change: bool
    ) -> None:
        # The form never touched `obj`: the service compares, audits and saves.
        assert isinstance(form, CloudProjectAdminForm)
        project_update(actor=request.user, project=obj, fields=form.service_fields())

    def delete_model(self, request: HttpRequest, obj: CloudProject) -> None:
        project_delete(actor=request.user, project=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CloudProject]) -> None:
        for project in queryset:
            project_delete(actor=request.user, project=project)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_username", "project_name", "action"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(TrackedTask)
class TrackedTaskAdmin(admin.ModelAdmin):
    list_display = ["task_id", "service", "project", "name", "state", "watched", "last_fetched"]
    list_filter = ["watched", "state"]
