"""The one way views find a project: scoped to the user before the lookup.

A project the user is not a member of is 404 (its existence does not leak); a viewer asking for an
admin action is 403.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _

from tasks.models import CloudProject, Membership, Role


def role_for(user, project: CloudProject) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    membership = Membership.objects.filter(user=user, project=project).only("role").first()
    return membership.role if membership else None


def get_project_for_user(user, public_id) -> CloudProject:
    """The project with `public_id` if `user` may see it, with `.role` set; else Http404.

    One indexed query on every request that names a project: the membership joined to its project
    (superusers: the project alone).
    """
    try:
        if user.is_superuser:
            project = CloudProject.objects.get(public_id=public_id)
            project.role = Role.ADMIN
            return project
        if not user.is_authenticated:
            raise Membership.DoesNotExist
        membership = Membership.objects.select_related("project").get(
            user=user, project__public_id=public_id
        )
    except (CloudProject.DoesNotExist, Membership.DoesNotExist, ValueError, ValidationError):
        raise Http404(_("No such project.")) from None
    project = membership.project
    project.role = membership.role
    return project


def get_admin_project_for_user(user, public_id) -> CloudProject:
    """As get_project_for_user, and PermissionDenied unless the user is the project's admin."""
    project = get_project_for_user(user, public_id)
    if project.role != Role.ADMIN:
        raise PermissionDenied(_("Only the project's admins may do this."))
    return project


def can_create_projects(user) -> bool:
    return user.is_authenticated and (user.is_staff or user.has_perm("tasks.add_cloudproject"))
