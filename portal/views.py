"""Site-wide views: the health check and the friendly error pages."""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from portal.middleware import remember_language

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("health check: database unreachable", exc_info=True)
        return False


def _cache_ok() -> bool:
    probe = uuid.uuid4().hex
    try:
        cache.set("healthz:probe", probe, timeout=10)
        return cache.get("healthz:probe") == probe
    except Exception:
        logger.warning("health check: cache unreachable", exc_info=True)
        return False


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """No login: {"status": "ok", "database": "ok", "cache": "ok"}, or 503 naming what failed."""
    checks = {
        "database": "ok" if _database_ok() else "error",
        "cache": "ok" if _cache_ok() else "error",
    }
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The top bar's language switch: Django's ``set_language`` (the cookie, then back to
    ``next``), and for a signed-in user the choice is saved on their profile too."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES) and request.user.is_authenticated:
        from tasks.models import UserPreference

        UserPreference.objects.update_or_create(user=request.user, defaults={"language": language})
        remember_language(request, language)
    return response


def _error_page(request: HttpRequest, status: int, template: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        # Every API error, including an unknown route, is the contract's JSON shape.
        from tasks.api.errors import error_response_for_status

        return error_response_for_status(status)
    return render(request, template, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A Django-level 400 that never reached a view (a disallowed Host header, another
    # SuspiciousOperation or BadRequest raised in middleware).
    return _error_page(request, 400, "400.html")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 403, "403.html")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 404, "404.html")


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_page(request, 500, "500.html")
