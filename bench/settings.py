"""Benchmark settings: the portal's own, plus the ceiling views of bench/urls.py.

DJANGO_SETTINGS_MODULE=bench.settings (bench/harness.py sets it for the servers it starts)
"""

from portal.settings import *  # noqa: F403 - the very settings production runs with

ROOT_URLCONF = "bench.urls"
