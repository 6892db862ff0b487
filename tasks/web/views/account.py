"""The user's two-factor login: enrol (QR code, then a code to confirm), recovery codes, turn off,
and the code page every sign-in of a user with a second factor passes through."""

from __future__ import annotations

import base64

import django_otp
import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from tasks.services import accounts
from tasks.web.forms import TwoFactorCodeForm
from tasks.web.two_factor import passed


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


@never_cache  # shows a secret (the QR code) and recovery codes: never stored by a cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = TwoFactorCodeForm()
    codes = None
    action = request.POST.get("action", "")
    enabled = accounts.two_factor_enabled(user)
    if request.method == "POST" and not enabled and action == "enable":
        form = TwoFactorCodeForm(request.POST)
        if form.is_valid():
            codes = accounts.two_factor_enable(
                user=user,
                code=form.cleaned_data["code"],
                keep_session_key=request.session.session_key,
            )
            if codes is None:
                form.add_error("code", _("That code is not right. Check the clock of your phone."))
            else:
                request.session[accounts.SESSION_STATE] = accounts.VERIFIED
                enabled = True
                form = TwoFactorCodeForm()
                messages.success(request, _("Two-factor login is on."))
    elif request.method == "POST" and enabled and passed(request):
        if action == "recovery":
            codes = accounts.two_factor_new_recovery_codes(user=user)
            messages.success(request, _("New recovery codes made; the old ones no longer work."))
        elif action == "disable":
            form = TwoFactorCodeForm(request.POST)
            if form.is_valid():
                if accounts.two_factor_disable(user=user, code=form.cleaned_data["code"]):
                    messages.success(request, _("Two-factor login is off."))
                    request.session[accounts.SESSION_STATE] = accounts.NONE
                    return redirect("two_factor")
                form.add_error(
                    "code",
                    _("Not turned off: the code is wrong, or two-factor login is required.")
                    if not accounts.two_factor_required(user)
                    else _("Two-factor login is required for your account: it stays on."),
                )
    context = {
        "enabled": enabled,
        "required": accounts.two_factor_required(user),
        "form": form,
        "codes": codes,
        "next": _next(request),
    }
    if not enabled:
        device = accounts.two_factor_pending_device(user=user)
        context["qr"] = segno.make(device.config_url, error="m").svg_data_uri(scale=4)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "tasks/two_factor.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of a sign-in: a code from the authenticator app or a recovery code."""
    if passed(request):
        return redirect(_next(request))
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = accounts.two_factor_verify(user=request.user, code=form.cleaned_data["code"])
        if device is not None:
            request.session.cycle_key()  # a new session id once fully signed in
            request.session[accounts.SESSION_STATE] = accounts.VERIFIED
            django_otp.login(request, device)
            return redirect(_next(request))
        form.add_error(
            "code", _("That code is not right, or too many tries: wait a little and try again.")
        )
    return render(request, "tasks/two_factor_verify.html", {"form": form, "next": _next(request)})
