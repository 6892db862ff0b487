"""Use cases on a project's members. The last admin can be neither removed nor demoted."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from tasks.errors import Forbidden
from tasks.models import CloudProject, Membership, Role
from tasks.services.audit import audit_record


def _lock(membership: Membership, *, actor) -> Membership:
    """Locks the membership's project row, then re-reads the membership.

    Every change to a project's admins takes this lock first, so two sole admins demoting or
    removing each other at once run one after the other and the second sees the first's result.
    (`select_for_update().count()` would lock nothing: PostgreSQL sends a plain COUNT(*).)
    """
    CloudProject.objects.select_for_update().only("pk").get(pk=membership.project_id)
    # Re-checked under the lock: an admin demoted a moment ago acts no more.
    if (
        actor is not None
        and not actor.is_superuser
        and not Membership.objects.filter(
            project_id=membership.project_id, user=actor, role=Role.ADMIN
        ).exists()
    ):
        raise Forbidden(reason="admins_only")
    fresh = Membership.objects.select_related("user", "project").filter(pk=membership.pk).first()
    if fresh is None:
        raise ValidationError({"username": [_("No such member.")]})
    return fresh


def _admin_count(project_id: int) -> int:
    # Read after _lock: every other writer of this project's admins waits for our commit.
    return Membership.objects.filter(project_id=project_id, role=Role.ADMIN).count()


@transaction.atomic
def member_add(*, actor, project: CloudProject, username: str, role: str) -> Membership:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": [_("No user with this name.")]})
    if role not in Role.values:
        raise ValidationError({"role": [_("Choose viewer or admin.")]})
    already = ValidationError({"username": [_("This user is already a member.")]})
    if Membership.objects.filter(project=project, user=user).exists():
        raise already
    try:
        # A savepoint: a parallel add of the same user loses at the unique index, not with a 500.
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
    except IntegrityError:
        raise already from None
    audit_record(actor=actor, project=project, action="member.added", username=username, role=role)
    return membership


@transaction.atomic
def member_set_role(*, actor, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": [_("Choose viewer or admin.")]})
    membership = _lock(membership, actor=actor)
    if membership.role == role:
        return membership
    if membership.role == Role.ADMIN and _admin_count(membership.project_id) <= 1:
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
    membership = _lock(membership, actor=actor)
    if membership.role == Role.ADMIN and _admin_count(membership.project_id) <= 1:
        raise ValidationError({"username": [_("The last admin of a project cannot be removed.")]})
    audit_record(
        actor=actor,
        project=membership.project,
        action="member.removed",
        username=membership.user.get_username(),
    )
    membership.delete()
