"""Page addresses of things findings and lists link to, worked out in one place."""

from django.urls import NoReverseMatch, reverse

#: The reserved service key of VIAS tasks (tasks.vas.VIAS_SERVICE once the VIAS work lands).
VIAS = "vias"


def task_url(project, service: str, task_id: str) -> str:
    """The detail page of a task: `/projects/<p>/vias/tasks/<id>/` for VIAS once that page
    exists, else `/projects/<p>/services/<service>/tasks/<id>/`."""
    if service == VIAS:
        try:
            return reverse("vias_task_detail", args=[project.public_id, task_id])
        except NoReverseMatch:
            pass
    return reverse("task_detail", args=[project.public_id, service, task_id])
