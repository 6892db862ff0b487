"""The user's API tokens: create (the key is shown once), list, revoke."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from tasks.errors import PortalError, error_text
from tasks.services.accounts import account_sign_out_everywhere
from tasks.services.tokens import (
    PREFIX_LENGTH,
    token_create,
    token_get,
    token_revoke,
    tokens_for_user,
)
from tasks.web.forms import TokenCreateForm
from tasks.web.two_factor import passed


@never_cache  # the page that shows a new key must not be stored anywhere
@login_required
@require_http_methods(["GET", "POST"])
def account_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm()
    new_key = None
    if request.method == "POST":
        form = TokenCreateForm(request.POST)
        if not passed(request):
            # TwoFactorMiddleware already keeps such a session away; said again where it matters.
            form.add_error(None, _("Enter your two-factor code first."))
        elif form.is_valid():
            try:
                _instance, new_key = token_create(
                    user=request.user,
                    expires_days=form.cleaned_data["expires_days"],
                    name=form.cleaned_data["name"],
                )
            except PortalError as exc:
                form.add_error(None, error_text(exc))
            else:
                form = TokenCreateForm()
    return render(
        request,
        "tasks/account_tokens.html",
        {
            "tokens": tokens_for_user(request.user).order_by("-created"),
            "form": form,
            "new_key": new_key,
            "prefix_length": PREFIX_LENGTH,
        },
    )


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, digest: str) -> HttpResponse:
    """Revokes one of the user's own tokens (someone else's is 404, as if it did not exist)."""
    token = token_get(user=request.user, digest=digest)
    token_revoke(user=request.user, token=token)
    messages.success(request, _("Token revoked: it no longer works."))
    return redirect("account_tokens")


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """Ends every session of the user (this one too) and revokes every API token of theirs."""
    account_sign_out_everywhere(user=request.user, reason="sign_out_everywhere")
    logout(request)
    messages.success(
        request, _("Signed out everywhere: every session and API token of yours ended.")
    )
    return redirect("login")
