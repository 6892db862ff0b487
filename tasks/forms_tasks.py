"""Forms of the task pages. They only collect and shape input; the services decide."""

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from tasks.i18n import state_choice_label
from tasks.vas.parsing import STATES

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
