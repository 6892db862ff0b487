"""Display helpers of the pages: state names, units and roles in the active language."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language, pgettext_lazy

from tasks.vas.parsing import STATES


def state_name(state: str) -> str:
    """The state as shown: the API's value in English, the SDK's Chinese name (VAS-API.md §3.1) in
    Chinese. Unknown states are shown as they came."""
    known = STATES.get(state)
    if known and (get_language() or "").lower().startswith("zh"):
        return known[2]
    return state


def state_choice_label(state: str) -> str:
    """A state filter option: ``运行中 (RUNNING)`` in Chinese, ``RUNNING`` in English."""
    name = state_name(state)
    return state if name == state else f"{name} ({state})"


UNITS: dict[str, Any] = {
    "px": pgettext_lazy("unit", "px"),
    "s": pgettext_lazy("unit", "s"),
    "frames": pgettext_lazy("unit", "frames"),
}


def unit_label(unit: str) -> str:
    label = UNITS.get(unit)
    return str(label) if label is not None else unit


ROLES: dict[str, Any] = {
    "admin": pgettext_lazy("role", "admin"),
    "viewer": pgettext_lazy("role", "viewer"),
}


def role_label(role: Any) -> str:
    label = ROLES.get(role) if isinstance(role, str) else None
    return str(label) if label is not None else ("" if role is None else str(role))
