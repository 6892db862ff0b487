"""Page addresses of things findings and lists link to, worked out in one place."""

from django.urls import reverse


def task_url(project, service: str, task_id: str) -> str:
    """The detail page of a task. VIAS tasks share the route name with `service="vias"`, which
    reverses to `/projects/<p>/vias/tasks/<id>/`; VAS tasks to `…/services/<s>/tasks/<id>/`."""
    return reverse(
        "task_detail",
        kwargs={"project": project.public_id, "service": service, "task_id": task_id},
    )
