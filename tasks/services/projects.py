"""Use cases that change projects and their credentials."""

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.errors import CredentialsUnavailable, Message, stored_error
from tasks.models import AuthType, CloudProject, Membership, Role
from tasks.services.audit import audit_record
from tasks.upstream import client_for
from tasks.vas.endpoints import default_iam_endpoint, default_vas_endpoint, validate_endpoint

PLAIN_FIELDS = (
    "name",
    "description",
    "region",
    "upstream_project_id",
    "endpoint",
    "iam_endpoint",
    "default_service",
    "cache_ttl",
    "auth_type",
    "iam_domain",
    "iam_user",
    "token_expires_at",
)
# What each auth type needs: (secret fields, plain fields).
REQUIRED_FOR_AUTH: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    AuthType.AKSK: (("access_key", "secret_key"), ()),
    AuthType.PASSWORD: (("iam_password",), ("iam_domain", "iam_user")),
    AuthType.TOKEN: (("token",), ("token_expires_at",)),
}
# Changing one of these changes who the portal is upstream: like a new secret, it bumps the
# credentials version (cache keys, reusable IAM tokens).
IDENTITY_FIELDS = (
    "auth_type",
    "upstream_project_id",
    "endpoint",
    "iam_endpoint",
    "iam_domain",
    "iam_user",
)
SECRETS_OF_AUTH: dict[str, set[str]] = {
    AuthType.AKSK: {"access_key", "secret_key", "security_token"},
    AuthType.PASSWORD: {"iam_password"},
    AuthType.TOKEN: {"token"},
}


def _endpoint_error(exc: ValueError) -> str:
    """A `validate_endpoint` error (its template and params) in the active language."""
    template = getattr(exc, "template", None)
    if template is not None:
        return _(template) % exc.params  # type: ignore[attr-defined]
    return _(str(exc))


# Sent as HTTP header values (the access key inside Authorization).
HEADER_SECRETS = ("access_key", "security_token", "token")


def _sendable_in_header(value: str) -> bool:
    """Secrets travel in HTTP headers: printable ASCII only (no line breaks, no control codes)."""
    return all(" " <= char <= "~" for char in value)


def _apply(
    project: CloudProject,
    fields: Mapping[str, Any],
    secrets: Mapping[str, str],
    clear: Iterable[str],
) -> dict[str, str]:
    """Sets fields and secrets on `project` (unsaved) and validates it; returns what happened to
    each secret ("changed"/"cleared") for the audit trail. Raises ValidationError by field."""
    for field, value in fields.items():
        if field not in PLAIN_FIELDS:
            raise ValueError(f"unknown project field: {field}")
        setattr(project, field, value.strip() if isinstance(value, str) else value)

    errors: dict[str, list[str]] = {}
    for field in ("endpoint", "iam_endpoint"):
        value = getattr(project, field) or (
            default_vas_endpoint(project.region)
            if field == "endpoint"
            else default_iam_endpoint(project.region)
        )
        try:
            setattr(
                project, field, validate_endpoint(value, settings.PORTAL_UPSTREAM_ALLOWED_HOSTS)
            )
        except ValueError as exc:
            errors.setdefault(field, []).append(_endpoint_error(exc))

    secret_changes: dict[str, str] = {}
    kept = SECRETS_OF_AUTH.get(project.auth_type, set())
    for field in CloudProject.SECRET_FIELDS:
        value = (secrets.get(field) or "").strip()
        if value and field in HEADER_SECRETS and not _sendable_in_header(value):
            # Said without echoing the value: it is a secret.
            errors.setdefault(field, []).append(
                _("Contains a line break or a character that cannot be sent; paste it again.")
            )
        elif value:
            project.set_secret(field, value)
            secret_changes[field] = "changed"
        elif (field in clear or field not in kept) and project.has_secret(field):
            # Switching auth type drops the old type's secrets: nothing unused stays stored.
            project.set_secret(field, "")
            secret_changes[field] = "cleared"

    needed_secrets, needed_fields = REQUIRED_FOR_AUTH.get(project.auth_type, ((), ()))
    for field in needed_secrets:
        if not project.has_secret(field):
            errors.setdefault(field, []).append(_("Required for this authentication type."))
    for field in needed_fields:
        if not getattr(project, field):
            errors.setdefault(field, []).append(_("Required for this authentication type."))

    try:
        project.full_clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return secret_changes


@transaction.atomic
def project_create(
    *, actor, fields: Mapping[str, Any], secrets: Mapping[str, str] | None = None
) -> CloudProject:
    """Creates a project; the creator becomes its admin."""
    project = CloudProject()
    changes = _apply(project, fields, secrets or {}, clear=())
    project.save()
    if actor is not None and actor.is_authenticated:
        Membership.objects.create(user=actor, project=project, role=Role.ADMIN)
    audit_record(
        actor=actor,
        project=project,
        action="project.created",
        fields={
            f: str(getattr(project, f))
            for f in PLAIN_FIELDS
            if getattr(project, f) not in ("", None)
        },
        secrets=sorted(changes),
    )
    return project


@transaction.atomic
def project_update(
    *,
    actor,
    project: CloudProject,
    fields: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    clear: Iterable[str] = (),
) -> CloudProject:
    """Changes settings and/or replaces credentials. A blank secret keeps the stored one."""
    before = {f: getattr(project, f) for f in PLAIN_FIELDS}
    changes = _apply(project, fields, secrets or {}, clear=set(clear))
    changed = {
        f: [str(before[f]), str(getattr(project, f))]
        for f in PLAIN_FIELDS
        if before[f] != getattr(project, f)
    }
    if changes or any(field in changed for field in IDENTITY_FIELDS):
        project.credentials_version += 1
    project.save()
    if changed:
        audit_record(actor=actor, project=project, action="project.updated", changed=changed)
    if changes:
        audit_record(actor=actor, project=project, action="credentials.replaced", secrets=changes)
    return project


@transaction.atomic
def project_delete(*, actor, project: CloudProject) -> None:
    audit_record(actor=actor, project=project, action="project.deleted", name=project.name)
    project.delete()


def project_check(*, project: CloudProject) -> CloudProject:
    """Tests the connection (a cheap signed list call); records ok, what it found (as code and
    params, worded when shown) and the time."""
    try:
        result = client_for(project).check(project.default_service)
    except CredentialsUnavailable as exc:
        ok, found = False, stored_error(exc)
    else:
        ok = result.ok
        if result.error is not None:
            found = stored_error(result.error)
        else:
            params = {"count": result.count, "service": project.default_service}
            found = Message("connected", params=params).as_dict()
    project.last_check_ok = ok
    project.last_check_result = found
    project.last_check_at = timezone.now()
    project.save(update_fields=["last_check_ok", "last_check_result", "last_check_at"])
    return project


def project_validate(*, project: CloudProject | None, fields: Mapping[str, Any]) -> None:
    """The checks `project_create` (project None) or `project_update` make of `fields`, without
    saving anything: for forms that must show errors before they save (the Django admin).
    Raises ValidationError by field."""
    candidate = CloudProject() if project is None else copy.copy(project)
    _apply(candidate, fields, {}, clear=())
