"""knox token authentication that tolerates any header bytes and records "last used"."""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from knox import auth as knox_auth
from knox.crypto import hash_token
from knox.settings import knox_settings
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

from tasks.caching import memo
from tasks.models import ApiToken

#: "Last used" is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def presented_digest(request) -> str | None:
    """The digest of the `Authorization: Token <key>` a request presents, else None: what the
    request's cache keys are made of (nothing is checked here; authentication does that)."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0] != knox_settings.AUTH_HEADER_PREFIX.encode():
        return None
    try:
        return hash_token(parts[1].decode("utf-8"))
    except UnicodeDecodeError:
        return None


class TokenAuthentication(knox_auth.TokenAuthentication):
    """`Authorization: Token <key>`; a bad, expired or revoked key is 401 authentication_failed."""

    def authenticate(self, request):
        # The request's cache read (tasks.api.views.ProjectScopedMixin.initial), when it made one.
        self._cached = getattr(request, "cache_read", None)
        return super().authenticate(request)

    def authenticate_credentials(self, token: bytes):
        try:
            key = token.decode("utf-8")
        except UnicodeDecodeError:
            # knox would let this escape as a 500.
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        # The memo is keyed by the presented key's digest: only an exact digest match finds one.
        digest = hash_token(key)
        cached, epochs = memo.token_get(digest, cached=getattr(self, "_cached", None))
        if cached is None:
            try:
                user, auth_token = super().authenticate_credentials(token)
            except exceptions.AuthenticationFailed:
                memo.token_forget(digest)  # no epoch key left behind per junk key tried
                raise
            memo.token_put(epochs, auth_token)
            return user, auth_token
        user, auth_token = cached
        if self._cleanup_token(auth_token):  # expired: deleted, which invalidates the entry
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        last_used_at = auth_token.last_used_at
        user, auth_token = self.validate_user(auth_token)
        if auth_token.last_used_at != last_used_at:
            memo.token_put(epochs, auth_token)
        return user, auth_token

    def _cleanup_token(self, auth_token: ApiToken) -> bool:
        """Only the presented token's expiry matters here. knox also sweeps every other token of
        the user on each request (a query and a loop per call); expired siblings are deleted when
        a token is created instead (tasks.services.tokens)."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False

    def validate_user(self, auth_token: ApiToken):
        user, auth_token = super().validate_user(auth_token)
        now = timezone.now()
        if auth_token.last_used_at is None or now - auth_token.last_used_at > LAST_USED_RESOLUTION:
            auth_token.last_used_at = now
            # An update, not a save: no signal, so the memo stays valid (the caller refreshes it).
            ApiToken.objects.filter(pk=auth_token.pk).update(last_used_at=now)
        return user, auth_token
