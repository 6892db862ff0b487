"""The request's cache reads sent ahead, the session's user from the memo, and the signed-in user's
saved interface language."""

import logging

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from portal.sessions import SessionStore

logger = logging.getLogger(__name__)

#: Where the user's saved language is remembered for the session ("" = none saved), so the
#: preference is read from the database once per session, not on every request.
SESSION_KEY = "portal_language"


def remember_language(request, language: str) -> None:
    """Called by the language switch: the session follows the user's new choice."""
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = language


class UserLanguageMiddleware:
    """After LocaleMiddleware and authentication: when the browser sends no language cookie, a
    signed-in user's saved choice (UserPreference) wins over Accept-Language, and the cookie is
    set again. The API keeps following the cookie or Accept-Language only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = None
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and not request.path.startswith(
            "/api/"
        ):
            language = self._saved_language(request)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response

    @staticmethod
    def _saved_language(request) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        session = request.session
        if SESSION_KEY not in session:
            from tasks.models import UserPreference

            saved = (
                UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
            )
            session[SESSION_KEY] = saved or ""
        language = session[SESSION_KEY]
        return language if language in dict(settings.LANGUAGES) else None


class MemoAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's, with `request.user` from memo.session_user: no query while the user and
    the session are unchanged."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _session_user(request))


def _session_user(request):
    if not hasattr(request, "_cached_user"):
        from tasks.caching.memo import session_user

        request._cached_user = session_user(request)
    return request._cached_user


class ReadAheadMiddleware:
    """First in the stack: sends the cache reads the request will make (tasks.caching.readahead), so
    that Redis answers while the rest of the middleware runs.

    Every request with a session cookie reads its session and its user's epoch (portal.sessions
    and tasks.caching.memo.session_user read through the batch). The resolved view adds its own keys
    with a `readahead(request, kwargs, session_user_pk)` function, on the view or its class,
    answering (keys, counters)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            keys, counters = self._plan(request)
        except Exception:  # only a speed-up: without it every layer reads for itself
            logger.exception("read-ahead planning failed for %s", request.path_info)
            keys, counters = [], []
        if not keys and not counters:
            return self.get_response(request)
        from tasks.caching.readahead import readahead

        with readahead(keys, counters):
            return self.get_response(request)

    @staticmethod
    def _plan(request) -> tuple[list, list]:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return [], []  # static files, unknown paths
        request.readahead_match = (request.path_info, match)  # reused by portal.handler
        from tasks.caching.memo import session_guess

        keys, user_pk = [], None
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if session_key:
            epoch_keys, user_pk = session_guess(session_key)
            keys += [SessionStore.cache_key_prefix + session_key, *epoch_keys]
        view = match.func
        planner = getattr(view, "readahead", None) or getattr(
            getattr(view, "view_class", None), "readahead", None
        )
        if planner is None:
            return keys, []
        view_keys, counters = planner(request, match.kwargs, user_pk)
        return keys + view_keys, counters
