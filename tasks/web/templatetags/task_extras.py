"""Display helpers for the task pages: state badges, times, service_config labels, masking."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from tasks.errors import stored_text
from tasks.vas.parsing import REDACTED, SERVICE_CONFIG_KEYS, is_secret_name
from tasks.vas.vias import VIAS_STATES, task_type
from tasks.web import display

register = template.Library()

#: Header names whose values are harmless to show; every other header value is masked on pages.
SAFE_HEADERS = frozenset({"content-type", "accept", "content-encoding", "user-agent"})


def state_info(state: Any) -> dict[str, str]:
    """Family (badge colour), meaning, Chinese name and displayed name of a state; unknown states
    are neutral. The displayed name is the API's value, or its Chinese name in Chinese."""
    name = state if isinstance(state, str) else ""
    # VIAS' states are VAS' plus two no VAS task has: one table serves both.
    family, meaning, zh = VIAS_STATES.get(name, ("unknown", "", ""))
    if not meaning:
        meaning = _("Unknown state: the portal does not know what it means.") if name else ""
    return {
        "state": name or "—",
        "label": display.state_name(name) if name else "—",
        "family": family if family != "unknown" else "neutral",
        "meaning": _(meaning) if meaning else "",
        "zh": zh,
    }


@register.simple_tag
def state_badge(state: Any, meaning: bool = False) -> str:
    """``<span class="badge FAMILY" title="meaning">STATE</span>`` (+ the meaning in words)."""
    info = state_info(state)
    # The other name of the state in brackets: the Chinese one in English, the API's in Chinese.
    other = info["zh"] if info["label"] == info["state"] else info["state"]
    title = info["meaning"] + (f" ({other})" if other and info["meaning"] else "")
    badge = format_html(
        '<span class="badge {}" title="{}" data-state-family="{}">{}</span>',
        info["family"],
        title,
        info["family"],
        info["label"],
    )
    if meaning and info["meaning"]:
        return format_html('{} <span class="state-meaning">{}</span>', badge, info["meaning"])
    return badge


def as_datetime(value: Any) -> datetime | None:
    """A datetime from a datetime or an ISO string (upstream times), else None."""
    dt: datetime | None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = parse_datetime(value.strip())
        except ValueError:
            return None
        if dt is None:
            return None
    else:
        return None
    if timezone.is_naive(dt):
        dt = timezone.make_aware(dt, UTC)
    return dt


@register.simple_tag
def when(value: Any) -> str:
    """A ``<time>``: UTC text and relative age server-side; the page script shows local time.

    Values that are not times (odd upstream data) are shown as they came.
    """
    dt = as_datetime(value)
    if dt is None:
        if value in (None, ""):
            return "—"
        return format_html('<span class="mono">{}</span>', str(value))
    utc = dt.astimezone(UTC)
    # isoformat, not date_format: the same digits (a 4-digit year too) at a tenth of the cost,
    # which counts on pages with a few times per row (the history).
    iso = utc.replace(tzinfo=None).isoformat(timespec="seconds")
    utc_text = iso.replace("T", " ") + " UTC"
    now = timezone.now()
    if utc <= now:
        age = _("%(age)s ago") % {"age": timesince(utc, now, depth=1)}
    else:
        age = _("in %(age)s") % {"age": timesince(now, utc, depth=1)}
    return format_html(
        '<time class="localtime" datetime="{}Z" title="{}">{}</time>'
        ' <span class="muted age" data-age-for="{}Z">({})</span>',
        iso,
        utc_text,
        utc_text,
        iso,
        age,
    )


@register.filter
def config_label(key: str) -> dict[str, str] | None:
    """(label, unit, explanation) of a known service_config.common key, else None."""
    known = SERVICE_CONFIG_KEYS.get(key)
    if known is None:
        return None
    label, unit, help_text = known
    return {"label": _(label), "unit": display.unit_label(unit), "help": _(help_text)}


def display_value(value: Any) -> str:
    """A compact text form of a JSON value as it came (strings unquoted)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def as_text(value: Any) -> str:
    return display_value(value)


@register.filter
def vias_task_type(value: Any) -> str:
    """A VIAS task type as ``cloud``/``edge`` whether it came as a word or as ``0``/``1``."""
    return display_value(task_type(value)) if value is not None else "—"


def mask_header(name: Any, value: Any) -> str:
    """Header values are masked on pages unless the name is known to be harmless."""
    if value == REDACTED:
        return REDACTED
    if isinstance(name, str) and name.lower() in SAFE_HEADERS and not is_secret_name(name):
        return display_value(value)
    return REDACTED


@register.filter
def masked_headers(headers: Any) -> list[tuple[str, str]]:
    if not isinstance(headers, dict):
        return []
    return [(str(name), mask_header(name, value)) for name, value in headers.items()]


@register.filter
def role_label(role: Any) -> str:
    """A member's role ("admin", "viewer") in the active language."""
    return display.role_label(role)


@register.filter
def stored_message(stored: Any) -> str:
    """A stored message (code and params: a connection check's result) in the active language."""
    return stored_text(stored)
