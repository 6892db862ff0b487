"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py portal.wsgi`."""

import multiprocessing
import os

import gunicorn.http.wsgi

# No server banner: do not tell the world which server and version answers.
gunicorn.http.wsgi.SERVER = "portal"

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Everything loaded at start-up (Django, the URLconf, templates) moves out of the garbage
    collector's view: full collections then scan only what requests allocate."""
    import gc

    gc.freeze()
