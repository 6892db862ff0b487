"""Use cases on a user's sign-ins: ending every session and API token, and two-factor login
(TOTP with recovery codes, on django-otp's models and throttled verification).

Two-factor state of a signed-in session (`SESSION_STATE` in the session):
``verified`` passed a code in this session; ``none`` the user has no second factor and none is
required; ``verify`` a code is still to be entered; ``enrol`` PORTAL_REQUIRE_2FA asks this user to
enrol first. tasks.web.two_factor lets a ``verify`` or ``enrol`` session reach only the
two-factor pages and logout.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tasks.models import ApiToken, Membership, Role
from tasks.services.audit import audit_record

SESSION_STATE = "portal_2fa"
VERIFIED, NONE, VERIFY, ENROL = "verified", "none", "verify", "enrol"
#: How many recovery codes a user gets; each works once.
RECOVERY_CODES = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


# ---- signing out everywhere ------------------------------------------------------------------


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


@transaction.atomic
def account_sign_out_everywhere(*, user, keep_session_key: str | None = None, reason: str) -> int:
    """Ends every session of `user` (but `keep_session_key`) and revokes every API token of
    theirs. Returns how many sessions ended. Sessions are found by reading the unexpired ones:
    Django's session table has no user column (run `clearsessions` daily to keep it short)."""
    store = _session_store()
    ended = 0
    user_id = str(user.pk)
    rows = Session.objects.filter(expire_date__gt=timezone.now()).values_list(
        "session_key", "session_data"
    )
    for session_key, data in rows.iterator():
        if session_key == keep_session_key:
            continue
        if str(store().decode(data).get("_auth_user_id")) == user_id:
            store(session_key=session_key).delete()  # the cached copy too (cached_db)
            ended += 1
    tokens = ApiToken.objects.filter(user=user)
    revoked = tokens.count()
    for token in tokens:
        token.delete()  # one by one: each deletion tells the memo (tasks.caching.memo)
    audit_record(
        actor=user,
        project=None,
        action="account.signed_out_everywhere",
        reason=reason,
        sessions=ended,
        api_tokens=revoked,
    )
    return ended


def password_about_to_change(sender, instance, **kwargs) -> None:
    """pre_save of the user model: whether a new raw password differs from the stored one.
    Django re-hashes the same password on login when its hasher settings change (an upgrade adds
    iterations); that is no password change and must not sign anyone out."""
    raw = getattr(instance, "_password", None)
    if raw is None or instance._state.adding or instance.pk is None:
        return
    stored = type(instance).objects.filter(pk=instance.pk).values_list("password", flat=True)
    old_hash = stored.first()
    instance._portal_password_changed = not (old_hash and check_password(raw, old_hash))


def password_changed(sender, instance, created: bool = False, **kwargs) -> None:
    """post_save of the user model: a new password (any path: the password change page, the
    admin, `changepassword`, a reset) ends every session and API token of the user. Django's
    password change page then keeps the session it was used in (update_session_auth_hash)."""
    if created or not getattr(instance, "_portal_password_changed", False):
        return
    instance._portal_password_changed = False
    account_sign_out_everywhere(user=instance, reason="password_changed")


# ---- two-factor login ------------------------------------------------------------------------


def two_factor_enabled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_required(user) -> bool:
    """PORTAL_REQUIRE_2FA makes a second factor mandatory for staff and every project admin."""
    if not settings.PORTAL_REQUIRE_2FA:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role=Role.ADMIN).exists()


def two_factor_state(user) -> str:
    """The state of a fresh sign-in of `user` (see the module docstring)."""
    if two_factor_enabled(user):
        return VERIFY
    return ENROL if two_factor_required(user) else NONE


def two_factor_pending_device(*, user) -> TOTPDevice:
    """The user's unconfirmed authenticator (made once, so reloading the page keeps the QR)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def _new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def two_factor_enable(*, user, code: str, keep_session_key: str | None) -> list[str] | None:
    """Confirms the pending authenticator with a current code: answers the recovery codes (shown
    once), or None when the code is wrong. Every other session and API token of the user ends:
    they were opened without the second factor."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(code.strip().replace(" ", "")):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    audit_record(actor=user, project=None, action="two_factor.enabled")
    account_sign_out_everywhere(user=user, keep_session_key=keep_session_key, reason="2fa_enabled")
    return codes


def two_factor_verify(*, user, code: str) -> Device | None:
    """The device (authenticator or recovery codes) that accepts `code`, else None. Throttled by
    django-otp: each failure doubles the wait before the next try is even checked. A recovery
    code works once."""
    code = (code or "").strip().replace(" ", "")
    if not code or len(code) > 32:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(code):
                if isinstance(device, StaticDevice):
                    audit_record(actor=user, project=None, action="two_factor.recovery_code_used")
                return device
    return None


@transaction.atomic
def two_factor_new_recovery_codes(*, user) -> list[str]:
    codes = _new_recovery_codes(user)
    audit_record(actor=user, project=None, action="two_factor.recovery_codes_renewed")
    return codes


@transaction.atomic
def two_factor_disable(*, user, code: str) -> bool:
    """Removes the second factor, given a current code; refused (False) when the code is wrong
    or PORTAL_REQUIRE_2FA requires one for this user."""
    if two_factor_required(user) or two_factor_verify(user=user, code=code) is None:
        return False
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_record(actor=user, project=None, action="two_factor.disabled")
    return True
