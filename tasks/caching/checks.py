"""System checks of the speed layer's configuration (run by `manage.py check --deploy`)."""

import os

from django.conf import settings
from django.core.checks import Error, Tags, register

PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache",)


def per_process_cache() -> bool:
    """Whether the default cache is this process's own (what one process writes, no other sees)."""
    return settings.CACHES["default"]["BACKEND"] in PER_PROCESS_CACHES


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs, **kwargs) -> list[Error]:
    """Revocation, demotion and removal reach other processes through the shared cache (the memo's
    epochs): with a per-process cache and several processes they would not. One process serving
    with threads (WEB_CONCURRENCY=1, gunicorn.conf.py) is the only production use of one."""
    if settings.DEBUG or not per_process_cache():
        return []
    if os.environ.get("WEB_CONCURRENCY", "").strip() == "1":
        return []
    return [
        Error(
            "The cache is per process (CACHE_URL=locmemcache://), and more than one process may "
            "serve: a revoked token, a demotion or a removed member would still be let in by the "
            "other processes.",
            hint="Set CACHE_URL=redis://…, or serve with one process and threads "
            "(WEB_CONCURRENCY=1; gunicorn.conf.py refuses more workers with this cache).",
            id="tasks.E001",
        )
    ]
