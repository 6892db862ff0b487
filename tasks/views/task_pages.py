"""Task pages. (The lookup form and recent tasks panel of the project page live here too.)"""

from django.http import HttpRequest


def project_task_panel(request: HttpRequest, project) -> dict:
    return {}
