"""The user's API tokens: create (the key is shown once), list, revoke."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from tasks.errors import PortalError
from tasks.services.tokens import (
    EXPIRY_CHOICES,
    PREFIX_LENGTH,
    token_create,
    token_revoke,
    tokens_for_user,
)


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("What the token is for, e.g. “nightly export script”."),
    )
    expires_days = forms.TypedChoiceField(
        label=gettext_lazy("Expires after"),
        # Callable: the labels are made for each form, in the language of its request.
        choices=lambda: [
            (days, ngettext("%(days)d day", "%(days)d days", days) % {"days": days})
            for days in EXPIRY_CHOICES
        ],
        coerce=int,
        initial=30,
    )


@never_cache  # the page that shows a new key must not be stored anywhere
@login_required
@require_http_methods(["GET", "POST"])
def account_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm()
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token = (
                tokens_for_user(request.user).filter(digest=request.POST.get("token", "")).first()
            )
            if token is None:
                raise Http404(_("No such token."))
            token_revoke(user=request.user, token=token)
            messages.success(request, _("Token revoked: it no longer works."))
            return redirect("account_tokens")
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            try:
                _instance, new_key = token_create(
                    user=request.user,
                    expires_days=form.cleaned_data["expires_days"],
                    name=form.cleaned_data["name"],
                )
            except PortalError as exc:
                form.add_error(None, exc.message)
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
