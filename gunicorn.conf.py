"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py portal.wsgi`.

Workers serve with threads (gthread): a request waiting for another's upstream fetch, or for a
slow upstream, holds a thread, not a whole worker, so `/healthz` and cached answers keep coming.
With a per-process cache (CACHE_URL=locmemcache://, the default) one worker is all there may be:
a second would not see the first one's revocations (tasks.caching.checks); it is refused.
"""

import multiprocessing
import os
import sys

import gunicorn.http.wsgi

# No server banner: do not tell the world which server and version answers.
gunicorn.http.wsgi.SERVER = "portal"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def _per_process_cache() -> bool:
    from django.conf import settings  # the settings module only: Django is set up by the workers

    return settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


PER_PROCESS_CACHE = _per_process_cache()

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(
    os.environ.get("WEB_CONCURRENCY", 1 if PER_PROCESS_CACHE else multiprocessing.cpu_count() + 1)
)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 30
graceful_timeout = 20
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Refuses a configuration whose processes would not share revocations (also when `--workers`
    is given on the command line)."""
    if PER_PROCESS_CACHE and server.cfg.workers > 1:
        sys.exit(
            f"gunicorn.conf.py: {server.cfg.workers} workers with a per-process cache "
            "(CACHE_URL=locmemcache://) would not see each other's revocations. Set "
            "CACHE_URL=redis://… or serve with one worker and threads (WEB_CONCURRENCY=1, "
            "GUNICORN_THREADS)."
        )


def post_worker_init(worker):
    """Everything loaded at start-up (Django, the URLconf, templates) moves out of the garbage
    collector's view: full collections then scan only what requests allocate."""
    import gc

    gc.freeze()
