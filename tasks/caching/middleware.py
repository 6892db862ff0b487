"""`request.user` from the memo (tasks.caching.memo.session_user): no query while the user and
the session are unchanged."""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.utils.functional import SimpleLazyObject

from tasks.caching import memo


class MemoAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's, with the user answered by the memo when first used. A view that reads the cache
    for its whole request (the task page) settles `request.user` from that read instead."""

    def process_request(self, request) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: memo.session_user(request))
