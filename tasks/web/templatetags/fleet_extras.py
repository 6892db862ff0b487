"""Display helpers for the fleet pages: durations and shares."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from tasks.web.display import state_choice_label

register = template.Library()


@register.filter
def duration(seconds: float | int | None) -> str:
    """ "3 d 4 h", "5 h 12 min", "42 s": the two largest units, in the page's language."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return _("%(n)s s") % {"n": seconds}
    minutes, _s = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        if hours:
            return _("%(d)s d %(h)s h") % {"d": days, "h": hours}
        return _("%(d)s d") % {"d": days}
    if hours:
        return (
            _("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
            if minutes
            else _("%(h)s h") % {"h": hours}
        )
    return _("%(m)s min") % {"m": minutes}


@register.filter
def state_label(state: str) -> str:
    """A state as a filter option: ``运行中 (RUNNING)`` in Chinese, ``RUNNING`` in English."""
    return state_choice_label(state)


@register.filter
def finding_kind(kind: str) -> str:
    return {
        "roi": _("ROI"),
        "webhook_not_https": _("Webhook"),
        "not_polled": _("Not polled"),
        "mute_ended": _("Mute ended"),
        "token_expiring": _("Token"),
        "check_failed": _("Connection"),
    }.get(kind, kind)
