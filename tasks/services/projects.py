"""Use cases that change projects and their credentials."""

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tasks.errors import CredentialsUnavailable, EditConflict, Message, stored_error
from tasks.models import AuthType, CloudProject, Membership, Role
from tasks.services.audit import audit_record
from tasks.upstream import client_for, vias_client_for
from tasks.vas.endpoints import default_iam_endpoint, default_vas_endpoint, validate_endpoint

PLAIN_FIELDS = (
    "name",
    "description",
    "region",
    "upstream_project_id",
    "endpoint",
    "iam_endpoint",
    "vias_endpoint",
    "default_service",
    "cache_ttl",
    "poll_interval",
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
    "vias_endpoint",
    "iam_domain",
    "iam_user",
)
# Where the secrets go and what they vouch for: when one of these changes, every stored secret must
# be entered again in the same request (else it is refused, naming the fields), so that an admin
# cannot point a project at a listener of theirs and receive the secrets they may not read.
SECRETS_FOLLOW = ("endpoint", "iam_endpoint", "auth_type", "region", "upstream_project_id")
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


def _label(project: CloudProject, field: str) -> str:
    return str(getattr(project._meta.get_field(field), "verbose_name", field))


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
    before: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Sets fields and secrets on `project` (unsaved) and validates it; returns what happened to
    each secret ("changed"/"cleared") for the audit trail. Raises ValidationError by field.

    `before` (an update: the stored plain fields) makes a change of a SECRETS_FOLLOW field drop
    every stored secret not entered again here; a required one missing then refuses the update."""
    for field, value in fields.items():
        if field not in PLAIN_FIELDS:
            raise ValueError(f"unknown project field: {field}")
        setattr(project, field, value.strip() if isinstance(value, str) else value)

    errors: dict[str, list[str]] = {}
    defaults = {
        "endpoint": default_vas_endpoint,
        "iam_endpoint": default_iam_endpoint,
        # Blank stays blank: VIAS then uses the region's endpoint but is not "configured" (the
        # connection test leaves it out). Set, it is held to the same allow list.
        "vias_endpoint": None,
    }
    for field, default in defaults.items():
        value = getattr(project, field) or (default(project.region) if default else "")
        if not value:
            continue
        try:
            setattr(
                project, field, validate_endpoint(value, settings.PORTAL_UPSTREAM_ALLOWED_HOSTS)
            )
        except ValueError as exc:
            errors.setdefault(field, []).append(_endpoint_error(exc))

    moved = [f for f in SECRETS_FOLLOW if before is not None and before[f] != getattr(project, f)]
    if moved:
        # Stored secrets never travel to a new address or identity without being entered again.
        clear = {*clear, *CloudProject.SECRET_FIELDS}
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
        if not project.has_secret(field) and moved:
            errors.setdefault(field, []).append(
                _(
                    "You changed %(fields)s: enter this credential again. Stored credentials are "
                    "never sent to a new address or identity."
                )
                % {"fields": ", ".join(_label(project, f) for f in moved)}
            )
        elif not project.has_secret(field):
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


def _save(project: CloudProject, **options: Any) -> None:
    """Saves in a savepoint: a parallel create or rename to the same name loses at the unique
    index and is the field error full_clean would have given, not a 500."""
    try:
        with transaction.atomic():
            project.save(**options)
    except IntegrityError:
        if CloudProject.objects.filter(name=project.name).exclude(pk=project.pk).exists():
            raise ValidationError(
                {"name": [_("A project with this name already exists.")]}
            ) from None
        raise


@transaction.atomic
def project_create(
    *, actor, fields: Mapping[str, Any], secrets: Mapping[str, str] | None = None
) -> CloudProject:
    """Creates a project; the creator becomes its admin."""
    project = CloudProject()
    changes = _apply(project, fields, secrets or {}, clear=())
    _save(project)
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
    expected_updated_at: datetime | None = None,
) -> CloudProject:
    """Changes settings and/or replaces credentials. A blank secret keeps the stored one.

    Works on the row locked and read afresh, and writes only the columns it changed, so two
    admins changing different fields at once both keep their change and a concurrent credential
    replacement is never written back over. `expected_updated_at` (the `updated_at` the editor
    read) refuses an edit made on an older version with EditConflict. `project` is updated in
    place with what was saved."""
    locked = CloudProject.objects.select_for_update().get(pk=project.pk)
    if expected_updated_at is not None and locked.updated_at != expected_updated_at:
        raise EditConflict()
    before = {f: getattr(locked, f) for f in PLAIN_FIELDS}
    stored = {column: getattr(locked, column) for column in CloudProject.SECRET_COLUMNS}
    changes = _apply(locked, fields, secrets or {}, clear=set(clear), before=before)
    changed = {
        f: [str(before[f]), str(getattr(locked, f))]
        for f in PLAIN_FIELDS
        if before[f] != getattr(locked, f)
    }
    columns = [
        *changed,
        *(column for column, value in stored.items() if getattr(locked, column) != value),
    ]
    if changes or any(field in changed for field in IDENTITY_FIELDS):
        locked.credentials_version += 1
        columns.append("credentials_version")
    if columns:
        _save(locked, update_fields=[*columns, "updated_at"])
    for column in [*columns, "updated_at", *CloudProject.SECRET_COLUMNS]:
        setattr(project, column, getattr(locked, column))
    if changed:
        audit_record(actor=actor, project=locked, action="project.updated", changed=changed)
    if changes:
        moved = [f for f in SECRETS_FOLLOW if f in changed]
        extra = {"because_changed": moved} if moved else {}
        audit_record(
            actor=actor, project=locked, action="credentials.replaced", secrets=changes, **extra
        )
    return project


@transaction.atomic
def project_delete(*, actor, project: CloudProject) -> None:
    audit_record(actor=actor, project=project, action="project.deleted", name=project.name)
    project.delete()


def project_check(*, project: CloudProject) -> CloudProject:
    """Tests the connection (a cheap signed list call); records ok, what it found (as code and
    params, worded when shown) and the time. With a VIAS endpoint set, VIAS is tested too: ok
    only when both answer."""
    try:
        result = client_for(project).check(project.default_service)
        vias = vias_client_for(project).check() if project.vias_endpoint else None
    except CredentialsUnavailable as exc:
        ok, found = False, stored_error(exc)
    else:
        ok = result.ok
        if result.error is not None:
            found = stored_error(result.error)
        else:
            params = {"count": result.count, "service": project.default_service}
            found = Message("connected", params=params).as_dict()
        if vias is not None:
            ok = ok and vias.ok
            vias_found = (
                stored_error(vias.error)
                if vias.error is not None
                else Message("connected_vias", params={"count": vias.count}).as_dict()
            )
            found = Message("checked_both", params={"vas": found, "vias": vias_found}).as_dict()
    project.last_check_ok = ok
    project.last_check_result = found
    project.last_check_at = timezone.now()
    project.save(update_fields=["last_check_ok", "last_check_result", "last_check_at"])
    return project


def project_validate(*, project: CloudProject | None, fields: Mapping[str, Any]) -> None:
    """The checks `project_create` (project None) or `project_update` make of `fields`, without
    saving anything: for forms that must show errors before they save (the Django admin).
    Raises ValidationError by field."""
    if project is None or project.pk is None:
        _apply(CloudProject(), fields, {}, clear=())
        return
    before = {f: getattr(project, f) for f in PLAIN_FIELDS}
    _apply(copy.copy(project), fields, {}, clear=(), before=before)
