"""HTML forms. They only collect input: validation that matters lives in the services."""

from datetime import datetime
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.http import QueryDict
from django.utils.translation import gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from tasks.models import ChannelKind, ChannelLanguage, CloudProject, EventKind, Role, Severity
from tasks.services.projects import PLAIN_FIELDS
from tasks.services.tokens import EXPIRY_CHOICES
from tasks.vas.parsing import STATES
from tasks.vas.vias import VIAS_STATES
from tasks.web.display import state_choice_label

SECRET_LABELS = {
    "access_key": _("Access key (AK)"),
    "secret_key": _("Secret key (SK)"),
    "security_token": _("Security token (temporary keys only)"),
    "iam_password": _("IAM password"),
    "token": _("X-Auth-Token"),
}


class ProjectForm(forms.Form):
    """Project settings plus write-only secret fields: never rendered back, blank keeps the stored
    value, a "clear" box removes it."""

    def __init__(self, *args, project: CloudProject | None = None, **kwargs):
        initial: dict[str, Any] = {f: getattr(project, f) for f in PLAIN_FIELDS} if project else {}
        if project is not None:
            # The version this page shows: a save made on an older one is refused, not applied.
            initial["version"] = project.updated_at.isoformat()
        kwargs["initial"] = initial or None
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["version"] = forms.CharField(
            required=False, max_length=64, widget=forms.HiddenInput
        )
        for name, field in forms.fields_for_model(CloudProject, fields=PLAIN_FIELDS).items():
            self.fields[name] = field
        self.fields["endpoint"].required = False
        # Blank keeps the stored interval (a new project: the default, 300 s).
        self.fields["poll_interval"].required = False
        self.fields["iam_endpoint"].required = False
        self.fields["vias_endpoint"].required = False
        self.fields["endpoint"].help_text = _(
            "Blank: https://iva.{region}.myhuaweicloud.com. Only hosts on the portal's allow list."
        )
        self.fields["iam_endpoint"].help_text = _("Blank: https://iam.{region}.myhuaweicloud.com.")
        self.fields["vias_endpoint"].help_text = _(
            "VIAS, the successor service, signed with the same credentials. Blank: "
            "https://vias.{region}.myhuaweicloud.com, and Test connection checks VAS only."
        )
        self.fields["token_expires_at"].widget = forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        )
        formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]
        self.fields["token_expires_at"].input_formats = formats  # type: ignore[attr-defined]
        for name, label in SECRET_LABELS.items():
            stored = project is not None and project.has_secret(name)
            self.fields[name] = forms.CharField(
                label=label,
                required=False,
                max_length=4096,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text=_("Stored. Leave blank to keep it.") if stored else "",
            )
            if stored:
                self.fields[f"clear_{name}"] = forms.BooleanField(
                    label=_("Remove the stored value"), required=False
                )

    def plain(self) -> dict:
        plain = {f: self.cleaned_data.get(f) for f in PLAIN_FIELDS}
        if plain.get("poll_interval") is None:
            del plain["poll_interval"]
        return plain

    def secrets(self) -> dict[str, str]:
        return {f: self.cleaned_data.get(f) or "" for f in SECRET_LABELS}

    def cleared(self) -> set[str]:
        return {f for f in SECRET_LABELS if self.cleaned_data.get(f"clear_{f}")}

    def version(self) -> datetime | None:
        """The project's `updated_at` when the page was drawn (None if absent or garbled)."""
        try:
            return datetime.fromisoformat(self.cleaned_data.get("version") or "")
        except ValueError:
            return None

    def refresh_version(self, project: CloudProject) -> None:
        """After a conflict: the form shows the same input, now based on the current version."""
        data = cast(QueryDict, self.data).copy()
        data["version"] = project.updated_at.isoformat()
        self.data = data

    def add_service_errors(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class MemberAddForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


# The contract's identifier pattern (task ids and service names), checked again by the service.
IDENTIFIER = RegexValidator(
    r"^[A-Za-z0-9_-]{1,64}$",
    _("Use 1–64 letters, digits, “_” or “-”."),
)


class TaskLookupForm(forms.Form):
    """Project page: a task id and the service it runs under."""

    task_id = forms.CharField(
        label=_("Task id"),
        max_length=64,
        validators=[IDENTIFIER],
        widget=forms.TextInput(
            attrs={
                "placeholder": "8d7c029b01c64abf9630f40b7dbfb067",
                "autocomplete": "off",
                "spellcheck": "false",
                "class": "mono",
            }
        ),
        help_text=_("32 hexadecimal characters, or task + 8 characters."),
    )
    service = forms.CharField(
        label=_("Service"),
        max_length=64,
        validators=[IDENTIFIER],
        widget=forms.TextInput(
            attrs={"list": "known-services", "autocomplete": "off", "class": "mono"}
        ),
    )

    def clean_task_id(self) -> str:
        return self.cleaned_data["task_id"].strip()


class TaskFilterForm(forms.Form):
    """Browse page filters; invalid values are dropped rather than shown as errors."""

    PAGE_SIZE = 20

    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        # Callable: evaluated for each form, in the language of its request.
        choices=lambda: [("", _("any state"))] + [(s, state_choice_label(s)) for s in STATES],
    )
    name = forms.CharField(label=_("Name contains"), required=False, max_length=100)
    page = forms.IntegerField(required=False, min_value=1, max_value=5000)

    def values(self) -> dict:
        """(state, name, page) with defaults for anything missing or invalid."""
        self.is_valid()  # invalid fields are left out of cleaned_data; the rest still apply
        data = self.cleaned_data
        return {
            "state": data.get("state") or None,
            "name": (data.get("name") or "").strip() or None,
            "page": data.get("page") or 1,
        }


class ViasTaskFilterForm(forms.Form):
    """VIAS list filters (state, name, camera, algorithm); invalid values are dropped."""

    PAGE_SIZE = 20

    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=lambda: [("", _("any state"))] + [(s, state_choice_label(s)) for s in VIAS_STATES],
    )
    name = forms.CharField(label=_("Name contains"), required=False, max_length=100)
    camera = forms.CharField(label=_("Camera"), required=False, max_length=100)
    algorithm = forms.CharField(label=_("Algorithm"), required=False, max_length=64)
    page = forms.IntegerField(required=False, min_value=1, max_value=5000)

    def values(self) -> dict:
        """(state, name, camera, algorithm, page) with defaults for anything missing or invalid."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "state": data.get("state") or None,
            "name": (data.get("name") or "").strip() or None,
            "camera": (data.get("camera") or "").strip() or None,
            "algorithm": (data.get("algorithm") or "").strip() or None,
            "page": data.get("page") or 1,
        }


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


class ChannelForm(forms.Form):
    """A notification channel. The target is write-only: never rendered back; blank on edit
    keeps the stored one."""

    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=ChannelKind.choices)
    target = forms.CharField(
        label=_("Target"),
        max_length=2000,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "Webhook: an https:// URL. Email: addresses separated by commas. Apprise: a URL such "
            "as dingtalk://token/ or feishu://token/. Stored encrypted; never shown again."
        ),
    )
    severities = forms.MultipleChoiceField(
        label=_("Send"),
        choices=Severity.choices,
        initial=[Severity.PROBLEM, Severity.RECOVERY],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None ticked: problems and recoveries."),
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=ChannelLanguage.choices, required=False
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def plain(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "target"}
        data["severities"] = data.get("severities") or [Severity.PROBLEM, Severity.RECOVERY]
        data["language"] = data.get("language") or ChannelLanguage.EN
        return data


#: How long a mute lasts, chosen on the task page (the API takes any time up to 30 days).
MUTE_CHOICES = [
    (3600, _("1 hour")),
    (4 * 3600, _("4 hours")),
    (86400, _("1 day")),
    (7 * 86400, _("7 days")),
    (30 * 86400, _("30 days")),
]


class MuteForm(forms.Form):
    seconds = forms.TypedChoiceField(
        label=_("Mute for"), choices=MUTE_CHOICES, coerce=int, required=False
    )


class EventFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("any"))] + list(EventKind.choices), required=False
    )
    severity = forms.ChoiceField(
        label=_("Severity"), choices=[("", _("any"))] + list(Severity.choices), required=False
    )
    task_id = forms.RegexField(label=_("Task id"), regex=r"^[A-Za-z0-9_-]{1,64}$", required=False)


class TwoFactorCodeForm(forms.Form):
    """A code from the authenticator app, or one of the recovery codes."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "class": "mono",
                "spellcheck": "false",
            }
        ),
        help_text=_("The 6 digits your authenticator app shows now, or a recovery code."),
    )
