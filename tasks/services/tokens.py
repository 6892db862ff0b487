"""Use cases on a user's API tokens (django-rest-knox's, stored as digests): create, list, revoke.

The token endpoint, the /account/tokens/ page and `manage.py create_api_token` all call these.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from knox.settings import knox_settings

from tasks.errors import NotFound, OtpInvalid, OtpRequired, PortalError
from tasks.models import ApiToken
from tasks.services.audit import audit_record

#: Expiry choices offered on the page, in days; the command and API accept 1..MAX_EXPIRY_DAYS.
EXPIRY_CHOICES = (1, 7, 30, 90, 365)
MAX_EXPIRY_DAYS = 365
#: Only this many leading characters of a key are shown as its "prefix".
PREFIX_LENGTH = 8


def tokens_for_user(user) -> QuerySet[ApiToken]:
    """The user's tokens that are still valid, newest first."""
    now = timezone.now()
    return ApiToken.objects.filter(user=user).filter(Q(expiry__gt=now) | Q(expiry__isnull=True))


def token_get(*, user, digest: str) -> ApiToken:
    """One of `user`'s valid tokens by its digest; NotFound for anyone else's."""
    token = tokens_for_user(user).filter(digest=digest).first()
    if token is None:
        raise NotFound(reason="token")
    return token


@transaction.atomic
def token_create(*, user, expires_days: int | None = None, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`: returns the stored row and the plaintext key, which exists only in
    this return value (the database keeps its SHA-512 digest)."""
    if expires_days is None:
        ttl = knox_settings.TOKEN_TTL
    else:
        if not 1 <= expires_days <= MAX_EXPIRY_DAYS:
            raise ValueError(f"expires_days must be 1..{MAX_EXPIRY_DAYS}")
        ttl = timedelta(days=expires_days)
    # Expired tokens are dead weight: drop them before counting.
    ApiToken.objects.filter(user=user, expiry__lte=timezone.now()).delete()
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None and tokens_for_user(user).count() >= limit:
        raise PortalError("token_limit_reached", params={"limit": limit})
    instance, key = ApiToken.objects.create(user=user, expiry=ttl, name=name.strip()[:100])
    audit_record(
        actor=user,
        project=None,
        action="api_token.created",
        prefix=instance.token_key[:PREFIX_LENGTH],
        expires=instance.expiry.isoformat() if instance.expiry else None,
    )
    return instance, key


@transaction.atomic
def token_revoke(*, user, token: ApiToken) -> None:
    """Deletes the token (knox's revocation): the next request with it is 401."""
    if token.user_id != user.pk:
        raise ValueError("a user revokes only their own tokens")
    audit_record(
        actor=user,
        project=None,
        action="api_token.revoked",
        prefix=token.token_key[:PREFIX_LENGTH],
    )
    token.delete()


def token_two_factor_check(*, user, code: str | None) -> None:
    """A token asked for with the password alone (HTTP Basic): a user with a second factor must
    add a current code; one whom PORTAL_REQUIRE_2FA obliges must enrol first. Raises otherwise."""
    from tasks.services.accounts import two_factor_enabled, two_factor_required, two_factor_verify

    if two_factor_enabled(user):
        if not code:
            raise OtpRequired()
        if two_factor_verify(user=user, code=code) is None:
            raise OtpInvalid()
    elif two_factor_required(user):
        raise OtpRequired(reason="enrol")
