"""Use cases on a project's members. The last admin can be neither removed nor demoted."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tasks.models import CloudProject, Membership, Role
from tasks.services.audit import audit_record


def _lock_admins(project: CloudProject) -> int:
    # Lock the project's rows so two concurrent demotions cannot both pass the check.
    return Membership.objects.select_for_update().filter(project=project, role=Role.ADMIN).count()


@transaction.atomic
def member_add(*, actor, project: CloudProject, username: str, role: str) -> Membership:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": [_("No user with this name.")]})
    if role not in Role.values:
        raise ValidationError({"role": [_("Choose viewer or admin.")]})
    if Membership.objects.filter(project=project, user=user).exists():
        raise ValidationError({"username": [_("This user is already a member.")]})
    membership = Membership.objects.create(project=project, user=user, role=role)
    audit_record(actor=actor, project=project, action="member.added", username=username, role=role)
    return membership


@transaction.atomic
def member_set_role(*, actor, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": [_("Choose viewer or admin.")]})
    if membership.role == role:
        return membership
    if membership.role == Role.ADMIN and _lock_admins(membership.project) <= 1:
        raise ValidationError({"role": [_("A project needs at least one admin.")]})
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        project=membership.project,
        action="member.role_changed",
        username=membership.user.get_username(),
        before=before,
        after=role,
    )
    return membership


@transaction.atomic
def member_remove(*, actor, membership: Membership) -> None:
    if membership.role == Role.ADMIN and _lock_admins(membership.project) <= 1:
        raise ValidationError({"username": [_("The last admin of a project cannot be removed.")]})
    audit_record(
        actor=actor,
        project=membership.project,
        action="member.removed",
        username=membership.user.get_username(),
    )
    membership.delete()
