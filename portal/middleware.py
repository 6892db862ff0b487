"""The signed-in user's saved interface language."""

from django.conf import settings
from django.utils import translation

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
        session = request.session
        if SESSION_KEY in session:
            # Only ever set for a signed-in user, and a session ends with its sign-in: the user
            # need not be looked up (a task page settles it later, from its one cache read).
            language = session[SESSION_KEY]
            return language if language in dict(settings.LANGUAGES) else None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        from tasks.models import UserPreference

        saved = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
        session[SESSION_KEY] = saved or ""
        return saved if saved in dict(settings.LANGUAGES) else None
