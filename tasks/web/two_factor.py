"""Two-factor login at the edge of the HTML and session API: a session whose user has a second
factor reaches nothing but the code page until a code is entered, and one that PORTAL_REQUIRE_2FA
asks to enrol reaches nothing but the enrolment page (tasks.services.accounts has the states)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from tasks.errors import Message
from tasks.services.accounts import NONE, SESSION_STATE, VERIFIED, VERIFY, two_factor_state

#: Reachable whatever the state: signing out, the language switch, static files, health.
ALWAYS_OPEN = ("/accounts/logout/", "/admin/logout/", "/i18n/setlang/", "/static/", "/healthz")


def on_login(sender, request, user, **kwargs) -> None:
    """user_logged_in: every sign-in starts from the user's state, never from a session's old
    one. A token asked for with HTTP Basic sends the signal too, with no session: nothing kept."""
    session = getattr(request, "session", None)
    if session is not None and session.session_key is not None:
        session[SESSION_STATE] = two_factor_state(user)


def session_state(request: HttpRequest) -> str:
    state = request.session.get(SESSION_STATE)
    if state not in (VERIFIED, NONE):
        # Unknown (a session from before two-factor login) or pending: read afresh.
        state = two_factor_state(request.user)
        request.session[SESSION_STATE] = state
    return state


def passed(request: HttpRequest) -> bool:
    """Whether this session passed two-factor login (or needs none)."""
    return request.user.is_authenticated and session_state(request) in (VERIFIED, NONE)


class TwoFactorMiddleware:
    """After authentication and messages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A session that passed (or needs no second factor) says so itself, so the user is not
        # looked up here for it (a task page settles the user from its one cache read).
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_STATE) in (VERIFIED, NONE):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(ALWAYS_OPEN):
            return self.get_response(request)
        state = session_state(request)
        if state in (VERIFIED, NONE):
            return self.get_response(request)
        page = reverse("two_factor_verify" if state == VERIFY else "two_factor")
        if request.path == page:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            if "HTTP_AUTHORIZATION" in request.META:
                return self.get_response(request)  # a token or Basic: the API decides
            reason = "session" if state == VERIFY else "session_enrol"
            message = Message("otp_required", reason).render()
            return JsonResponse({"error": {"code": "otp_required", "message": message}}, status=403)
        return redirect(f"{page}?{urlencode({'next': request.get_full_path()})}")
