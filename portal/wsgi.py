"""WSGI entry point (gunicorn portal.wsgi)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application does

from portal.handler import PortalWSGIHandler  # noqa: E402 - after setup, like Django's own

application = PortalWSGIHandler()
