"""Bench-only URLconf: the portal's own URLs plus two "ceiling" views.

Used only by bench/settings.py, which the benchmarks start gunicorn with. The ceiling
views answer the very bytes the portal answers for a task (written by bench/harness.py to the files
named by BENCH_CEILING_JSON and BENCH_CEILING_HTML) with no authentication, database, cache or
template: what the same server, middleware and Django cost for a response of that size.
"""

import json
import os

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from portal.urls import handler400, handler403, handler404, handler500  # noqa: F401 - same error pages

_loaded: dict[str, object] = {}


def _load(name: str, *, as_json: bool) -> object:
    # Read on the first request of each worker: the harness writes the files after start-up.
    if name not in _loaded:
        with open(os.environ[name], "rb") as fh:
            raw = fh.read()
        _loaded[name] = json.loads(raw) if as_json else raw
    return _loaded[name]


def ceiling_json(request: HttpRequest) -> JsonResponse:
    """A bare JsonResponse of the task API's payload (serialised on every request, as DRF does)."""
    return JsonResponse(_load("BENCH_CEILING_JSON", as_json=True))


def ceiling_html(request: HttpRequest) -> HttpResponse:
    """The detail page's HTML, as bytes: no template rendering."""
    return HttpResponse(_load("BENCH_CEILING_HTML", as_json=False))


urlpatterns = [
    path("bench/ceiling.json", ceiling_json, name="bench-ceiling-json"),
    path("bench/ceiling.html", ceiling_html, name="bench-ceiling-html"),
    path("", include("portal.urls")),
]
