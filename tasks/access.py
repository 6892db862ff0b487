"""The one way views find a project: scoped to the user before the lookup.

A project the user is not a member of is 404 (its existence does not leak); a viewer asking for an
admin action is 403.
"""

import uuid

from django.contrib.auth import get_user_model

from tasks.caching import memo
from tasks.caching.read import CacheRead
from tasks.errors import Forbidden, NotFound
from tasks.models import CloudProject, Membership, Role

#: Loaded only where a request is signed (CloudProject.credentials()), never memoised.
_DEFERRED = tuple(f"project__{column}" for column in CloudProject.SECRET_COLUMNS)


def get_project_for_user(user, public_id, *, cached: CacheRead | None = None) -> CloudProject:
    """The project with `public_id` if `user` may see it, with `.role` set; else NotFound (an
    Http404: the pages' 404, the API's `not_found`).

    Memoised (tasks.caching.memo; invalidated by membership, project and user changes), its epochs
    taken from the request's cache read when the caller made one (`cached`); on a miss one indexed
    query: the membership joined to its project (superusers: the project alone). The project's
    secret columns load when they are used.
    """
    if not user.is_authenticated:
        raise NotFound(reason="project")
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(reason="project") from None
    project, epochs = memo.project_get(user.pk, public_id, cached=cached)
    if project is not None:
        return project
    # `user.is_superuser` was read before the epochs were: the memo keeps only answers the
    # database still confirms, or a promotion or demotion racing this request would stick.
    try:
        if user.is_superuser:
            project = CloudProject.objects.defer(*CloudProject.SECRET_COLUMNS).get(
                public_id=public_id
            )
            project.role = Role.ADMIN
            confirmed = get_user_model().objects.filter(pk=user.pk, is_superuser=True).exists()
        else:
            membership = (
                Membership.objects.select_related("project", "user")
                .defer(*_DEFERRED)
                .get(user=user, project__public_id=public_id)
            )
            project = membership.project
            project.role = membership.role
            confirmed = not membership.user.is_superuser
    except (CloudProject.DoesNotExist, Membership.DoesNotExist):
        # Not memoised: a 404 costs the query each time, and nothing is left to invalidate.
        raise NotFound(reason="project") from None
    if confirmed:
        memo.project_put(epochs, user.pk, project)
    return project


def get_admin_project_for_user(user, public_id, *, cached: CacheRead | None = None) -> CloudProject:
    """As get_project_for_user, and Forbidden (a PermissionDenied) unless the user is the
    project's admin."""
    project = get_project_for_user(user, public_id, cached=cached)
    if project.role != Role.ADMIN:
        raise Forbidden(reason="admins_only")
    return project


def can_create_projects(user) -> bool:
    return user.is_authenticated and (user.is_staff or user.has_perm("tasks.add_cloudproject"))
