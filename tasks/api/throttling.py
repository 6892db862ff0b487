"""The API's request rate: PORTAL_API_RATE per user (per address for anonymous requests).

Forced refreshes (`refresh=true`) have the tighter PORTAL_REFRESH_RATE scope, enforced by the task
service itself (`tasks.services.task_fetch.refresh_allow`) so that the page's refresh button and
the API share one budget per user; it answers 429 `throttled` like this throttle does.
"""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from tasks.caching.ratelimit import rate_hit, window


class ApiRateThrottle(BaseThrottle):
    """A fixed-window counter per user (see tasks.caching.ratelimit); a request whose cache read
    (tasks.caching.read) bumped its user's counter already passes that count on."""

    def allow_request(self, request, view) -> bool:
        counted = None
        if request.user and request.user.is_authenticated:
            key = _user_key(request.user.pk)
            read = getattr(request, "cache_read", None)
            if read is not None:
                counted = read.count(self.user_window(request.user.pk)[0])
        else:
            key = f"api:addr:{self.get_ident(request)}"
        self._wait = rate_hit(key, settings.PORTAL_API_RATE, counted=counted)
        return self._wait is None

    @staticmethod
    def user_window(user_pk) -> tuple[str, int]:
        """The counter a request of this user bumps now: (key, seconds it lives)."""
        return window(_user_key(user_pk), settings.PORTAL_API_RATE)

    def wait(self) -> float | None:
        return self._wait


def _user_key(user_pk) -> str:
    return f"api:user:{user_pk}"
