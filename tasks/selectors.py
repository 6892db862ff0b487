"""Reads, always scoped by the user or the project."""

from django.db.models import OuterRef, QuerySet, Subquery

from tasks.models import AuditEvent, CloudProject, Membership


def projects_for_user(user) -> QuerySet[CloudProject]:
    """Projects `user` may see, each annotated with `user_role` (None for superusers' extras)."""
    if not user.is_authenticated:
        return CloudProject.objects.none()
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    projects = CloudProject.objects.annotate(user_role=Subquery(role))
    if user.is_superuser:
        return projects
    return projects.filter(memberships__user=user)


def members_of(project: CloudProject) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def recent_events(project: CloudProject, limit: int = 20) -> QuerySet[AuditEvent]:
    return project.audit_events.all()[:limit]
