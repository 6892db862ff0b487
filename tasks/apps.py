from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Cloud projects, their credentials, and the VAS tasks fetched through them."""

    name = "tasks"
    verbose_name = "VAS tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tasks import signals
        from tasks.caching import memo

        memo.connect()
        signals.connect()
