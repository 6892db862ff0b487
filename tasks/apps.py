from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Cloud projects, their credentials, and the VAS tasks fetched through them."""

    name = "tasks"
    verbose_name = "VAS tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_save, pre_save

        from tasks import signals
        from tasks.caching import checks, memo  # noqa: F401 - checks registers itself
        from tasks.services import accounts
        from tasks.web import two_factor

        memo.connect()
        signals.connect()
        User = get_user_model()
        pre_save.connect(accounts.password_about_to_change, sender=User, dispatch_uid="pw-pre")
        post_save.connect(accounts.password_changed, sender=User, dispatch_uid="pw-post")
        user_logged_in.connect(two_factor.on_login, dispatch_uid="two-factor-login")
