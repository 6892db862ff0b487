"""The status badges' SVG: a flat two-part badge with a translated state word, nothing else."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from tasks.services.badges import PROJECT_MIXED, PROJECT_NONE, PROJECT_PROBLEM, PROJECT_UP
from tasks.vas.parsing import STATES
from tasks.web.display import state_name

#: Badge colours: the detail page's state colours (static/css/portal.css).
COLOURS = {
    "running": "#18794e",
    "transitional": "#0b5cad",
    "stopped": "#5b6475",
    "failed": "#b42318",
    "frozen": "#5b3fb5",
    "neutral": "#8993a4",
}
PROJECT_COLOURS = {
    PROJECT_UP: COLOURS["running"],
    PROJECT_PROBLEM: COLOURS["failed"],
    PROJECT_MIXED: COLOURS["transitional"],
    PROJECT_NONE: COLOURS["neutral"],
}


def _word_width(text: str) -> int:
    # Verdana 11px: about 7 px a Latin character, 12 px a CJK one; no font metrics needed.
    return sum(12 if ord(ch) > 0x2E80 else 7 for ch in text) + 10


def badge_svg(*, label: str, word: str, colour: str) -> str:
    """A flat two-part badge (shields.io's layout), text escaped, no script, no link."""
    left, right = _word_width(label), _word_width(word)
    width = left + right
    label, word = escape(label), escape(word)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label}: {word}"><title>{label}: {word}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f'<text x="{left / 2}" y="14">{label}</text>'
        f'<text x="{left + right / 2}" y="14">{word}</text></g></svg>'
    )


def project_badge_svg(state: str) -> str:
    words = {
        PROJECT_UP: pgettext("project badge", "up"),
        PROJECT_PROBLEM: pgettext("project badge", "problem"),
        PROJECT_MIXED: pgettext("project badge", "mixed"),
        PROJECT_NONE: pgettext("project badge", "no watched tasks"),
    }
    return badge_svg(label=_("VAS"), word=words[state], colour=PROJECT_COLOURS[state])


def task_badge_svg(state: str) -> str:
    family = STATES.get(state, ("neutral",))[0]
    if state == "GONE":
        word, family = pgettext("task badge", "gone"), "failed"
    else:
        word = state_name(state)
    return badge_svg(label=_("VAS task"), word=word, colour=COLOURS.get(family, COLOURS["neutral"]))
