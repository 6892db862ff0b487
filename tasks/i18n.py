"""Texts of the Django-free layers (tasks.vas, tasks.roi) in the user's language.

The upstream client and the ROI normaliser write English and know nothing of Django. Their texts
are translated here, at render time: reference labels marked with ``gettext_noop`` by their English
text, errors and ROI problems by their stable code. In English the original text is kept as it is
(it is often more specific); the upstream's own ``error_code``/``error_msg`` are never translated.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import get_language, gettext_lazy, ngettext, pgettext_lazy
from django.utils.translation import gettext as _

from tasks.vas.parsing import STATES

# --------------------------------------------------------------------------- language


def _sentence_gap() -> str:
    """What goes between two sentences: nothing in Chinese (its full stop is wide), a space else."""
    return "" if (get_language() or "").lower().startswith("zh") else " "


def is_english() -> bool:
    """Whether the active language is English (the language every source text is written in)."""
    return (get_language() or "en").lower().startswith("en")


# --------------------------------------------------------------------------- states


def state_name(state: str) -> str:
    """The state as shown: the API's value in English, the SDK's Chinese name
    (docs/VAS-API.md §3.1) in Chinese. Unknown states are shown as they came."""
    known = STATES.get(state)
    if known and (get_language() or "").lower().startswith("zh"):
        return known[2]
    return state


def state_choice_label(state: str) -> str:
    """A state filter option: ``运行中 (RUNNING)`` in Chinese, ``RUNNING`` in English."""
    name = state_name(state)
    return state if name == state else f"{name} ({state})"


# --------------------------------------------------------------------------- units and regions

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


# --------------------------------------------------------------------------- upstream errors

#: Contract code -> what happened and what to do (the VasError classes' default messages).
VAS_MESSAGES: dict[str, Any] = {
    "upstream_error": gettext_lazy("The VAS upstream call failed. Try again later."),
    "task_not_found": gettext_lazy(
        "The VAS upstream has no such task. Check the task id and the service name "
        "(tasks are listed per service)."
    ),
    "upstream_bad_request": gettext_lazy(
        "The VAS upstream rejected the request as invalid. Check the project id, service name "
        "and filters."
    ),
    "upstream_auth_failed": gettext_lazy(
        "The VAS upstream refused the project's credentials. Ask a project admin to check or "
        "replace them."
    ),
    "upstream_forbidden": gettext_lazy(
        "The credentials are valid but not allowed to do this (subscription or IAM policy). "
        "Ask the cloud account owner to grant VAS access."
    ),
    "upstream_unavailable": gettext_lazy(
        "The VAS upstream is unavailable right now. Try again in a moment."
    ),
    "upstream_timeout": gettext_lazy(
        "The VAS upstream did not answer in time. Try again in a moment."
    ),
    "upstream_invalid_response": gettext_lazy(
        "The VAS upstream sent an answer the portal cannot use. Check the endpoint setting; "
        "if it is right, try again later."
    ),
    "endpoint_not_allowed": gettext_lazy(
        "The endpoint resolves to an address the portal may not call (private, loopback or "
        "link-local). Ask an administrator to check the project's endpoint."
    ),
    "credentials_unavailable": gettext_lazy(
        "The stored credentials of this project cannot be decrypted with the configured keys. "
        "An admin can enter the credentials again on the project's edit page."
    ),
}


def upstream_error_message(
    *,
    code: str,
    message: str,
    status: int | None = None,
    error_code: str | None = None,
    error_msg: str | None = None,
    retry_after: float | None = None,
) -> str:
    """An upstream (or remembered) error's message in the active language.

    English keeps the client's own text. Other languages get the code's message, the HTTP status
    when it explains more (429, 5xx), and what the upstream said, verbatim.
    """
    if is_english() or code not in VAS_MESSAGES:
        return message
    if status == 429:
        text = _("The VAS upstream is rate limiting the portal's requests (HTTP 429).")
    elif code == "upstream_unavailable" and status is not None and status >= 500:
        text = _(
            "The VAS upstream failed (HTTP %(status)d) even after retrying. Try again in a moment."
        ) % {"status": status}
    else:
        text = str(VAS_MESSAGES[code])
    said = " ".join(part for part in (error_code, error_msg) if part)
    if said:
        text += _sentence_gap() + _("Upstream said: %(detail)s") % {"detail": said}
    if retry_after:
        seconds = max(1, round(retry_after))
        text += _sentence_gap() + ngettext(
            "Wait %(seconds)d second before retrying.",
            "Wait %(seconds)d seconds before retrying.",
            seconds,
        ) % {"seconds": seconds}
    return text


def error_message(exc: Any, *, with_retry: bool = True) -> str:
    """The message of a VasError or PortalError in the active language.

    A PortalError (or a VasError raised by the Django layer, marked ``localized``) was written
    with gettext when it was raised and is kept.
    """
    message = getattr(exc, "message", None) or str(exc)
    code = getattr(exc, "code", "")
    if getattr(exc, "localized", False) or not hasattr(exc, "upstream_dict"):
        if code == "credentials_unavailable" and not is_english():
            return str(VAS_MESSAGES[code])
        return message
    return upstream_error_message(
        code=code,
        message=message,
        status=exc.status,
        error_code=exc.error_code,
        error_msg=exc.error_msg,
        retry_after=exc.retry_after if with_retry else None,
    )


def error_dict_message(error: Any) -> str:
    """The message of a stored ``{code, message}`` error (a stale copy's reason)."""
    if not isinstance(error, dict):
        return ""
    return upstream_error_message(
        code=str(error.get("code") or ""), message=error.get("message") or ""
    )


# --------------------------------------------------------------------------- connection check

_CONNECTED = re.compile(r"^Connected: (\d+) tasks? in service (\S+)\.$")


def check_message(message: str) -> str:
    """A stored connection-check result in the active language (it is stored in English)."""
    if is_english() or not message:
        return message
    match = _CONNECTED.match(message)
    if match:
        count = int(match.group(1))
        return ngettext(
            "Connected: %(count)d task in service %(service)s.",
            "Connected: %(count)d tasks in service %(service)s.",
            count,
        ) % {"count": count, "service": match.group(2)}
    for template in VAS_CHECK_PREFIXES:
        if message.startswith(template[0]):
            rest = message[len(template[0]) :].strip()
            said = rest.removeprefix("Upstream said:").strip()
            text = str(template[1])
            upstream = _("Upstream said: %(detail)s") % {"detail": said} if said else ""
            return text + (_sentence_gap() + upstream if upstream else "")
    return message


# The stored check messages start with a VasError default message; the rest is the upstream's.
VAS_CHECK_PREFIXES: list[tuple[str, Any]] = [
    (
        "The VAS upstream refused the project's credentials. Ask a project admin to check or "
        "replace them.",
        VAS_MESSAGES["upstream_auth_failed"],
    ),
    (
        "The credentials are valid but not allowed to do this (subscription or IAM policy). "
        "Ask the cloud account owner to grant VAS access.",
        VAS_MESSAGES["upstream_forbidden"],
    ),
    (
        "The VAS upstream has no such task. Check the task id and the service name "
        "(tasks are listed per service).",
        VAS_MESSAGES["task_not_found"],
    ),
    (
        "The VAS upstream rejected the request as invalid. Check the project id, service name "
        "and filters.",
        VAS_MESSAGES["upstream_bad_request"],
    ),
    ("The VAS upstream did not answer", VAS_MESSAGES["upstream_timeout"]),
    ("The VAS upstream failed", VAS_MESSAGES["upstream_unavailable"]),
    ("The VAS upstream is rate limiting", VAS_MESSAGES["upstream_unavailable"]),
    ("The VAS upstream is unavailable", VAS_MESSAGES["upstream_unavailable"]),
    ("The VAS upstream sent", VAS_MESSAGES["upstream_invalid_response"]),
    ("The VAS upstream answered", VAS_MESSAGES["upstream_invalid_response"]),
    ("The endpoint resolves", VAS_MESSAGES["endpoint_not_allowed"]),
    ("The stored credentials", VAS_MESSAGES["credentials_unavailable"]),
]


# --------------------------------------------------------------------------- endpoints


def endpoint_error_message(exc: ValueError) -> str:
    """A ``validate_endpoint`` error in the active language."""
    template = getattr(exc, "template", None)
    if template is not None:
        return _(template) % exc.params  # type: ignore[attr-defined]
    return _(str(exc))


# --------------------------------------------------------------------------- ROI problems

_LABEL = r"(?P<kind>Polygon|Line) (?P<n>\d+)(?: \((?P<name>.*)\))?"

#: code -> [(pattern of the English message, translation)]; the first match wins.
ROI_PROBLEMS: dict[str, list[tuple[re.Pattern[str], Any]]] = {}


def _roi(code: str, pattern: str, text: Any) -> None:
    ROI_PROBLEMS.setdefault(code, []).append((re.compile(f"^{pattern}$", re.S), text))


_roi(
    "malformed_json",
    r".*",
    gettext_lazy(
        "target_roi is not valid JSON, so no region could be drawn. Fix the task's target_roi "
        "setting."
    ),
)
_roi(
    "not_an_object",
    r".*",
    gettext_lazy(
        "target_roi should be a JSON object with 'polygons' and/or 'lines'; nothing was drawn."
    ),
)
_roi(
    "invalid_shape",
    _LABEL + r" has no list of points; not drawn\.",
    gettext_lazy("%(shape)s has no list of points; not drawn."),
)
_roi("invalid_shape", _LABEL + r" is not an object\.", gettext_lazy("%(shape)s is not an object."))
_roi("invalid_shape", _LABEL + r" is invalid\.", gettext_lazy("%(shape)s is invalid."))
_roi(
    "invalid_point",
    _LABEL + r": point (?P<point>\d+) is not an \[x, y\] pair; shape not drawn\.",
    gettext_lazy("%(shape)s: point %(point)s is not an [x, y] pair; shape not drawn."),
)
_roi(
    "boolean_coordinate",
    _LABEL + r": point (?P<point>\d+) has a true/false coordinate; shape not drawn\.",
    gettext_lazy("%(shape)s: point %(point)s has a true/false coordinate; shape not drawn."),
)
_roi(
    "non_numeric",
    _LABEL + r": point (?P<point>\d+) has a non-numeric coordinate; shape not drawn\.",
    gettext_lazy("%(shape)s: point %(point)s has a non-numeric coordinate; shape not drawn."),
)
_roi(
    "not_finite",
    _LABEL + r": point (?P<point>\d+) has a NaN or infinite coordinate; shape not drawn\.",
    gettext_lazy("%(shape)s: point %(point)s has a NaN or infinite coordinate; shape not drawn."),
)
_roi(
    "not_finite",
    r"(?P<key>\w+) is NaN or infinite; ignored\.",
    gettext_lazy("%(key)s is NaN or infinite; ignored."),
)
_roi(
    "coordinate_too_large",
    _LABEL + r": point (?P<point>\d+) has an absurdly large coordinate; shape not drawn\.",
    gettext_lazy("%(shape)s: point %(point)s has an absurdly large coordinate; shape not drawn."),
)
_roi(
    "invalid_detection_size",
    r"(?P<key>\w+) is not a number; ignored\.",
    gettext_lazy("%(key)s is not a number; ignored."),
)
_roi(
    "invalid_detection_size",
    r"(?P<key>\w+) is too large; ignored\.",
    gettext_lazy("%(key)s is too large; ignored."),
)
_roi(
    "min_greater_than_max",
    r".*",
    gettext_lazy(
        "detection_min_size is larger than detection_max_size, so nothing can be detected."
    ),
)
_roi("internal_error", r".*", gettext_lazy("The ROI could not be interpreted."))
_roi(
    "unknown_key",
    r"target_roi has an unknown key (?P<key>.*)\.",
    gettext_lazy("target_roi has an unknown key %(key)s."),
)
_roi(
    "unknown_key",
    _LABEL + r" has an unknown key (?P<key>.*)\.",
    gettext_lazy("%(shape)s has an unknown key %(key)s."),
)
_roi(
    "invalid_shape_list",
    r"'(?P<key>\w+)' is not a list; ignored\.",
    gettext_lazy("'%(key)s' is not a list; ignored."),
)
_roi(
    "too_many_shapes",
    r"More than (?P<max>\d+) shapes; the rest are not drawn\.",
    gettext_lazy("More than %(max)s shapes; the rest are not drawn."),
)
_roi(
    "too_few_points",
    _LABEL + r" has (?P<count>\d+) point\(s\); a polygon needs at least 3\. Not drawn\.",
    gettext_lazy("%(shape)s has %(count)s point(s); a polygon needs at least 3. Not drawn."),
)
_roi(
    "too_few_points",
    _LABEL + r" has (?P<count>\d+) point\(s\); a line needs at least 2\. Not drawn\.",
    gettext_lazy("%(shape)s has %(count)s point(s); a line needs at least 2. Not drawn."),
)
_roi(
    "wrong_point_count",
    _LABEL + r" has (?P<count>\d+) points; a line has exactly 2\. Not drawn\.",
    gettext_lazy("%(shape)s has %(count)s points; a line has exactly 2. Not drawn."),
)
_roi(
    "too_many_points",
    r"More than (?P<max>\d+) points in total; the remaining shapes are not drawn\.",
    gettext_lazy("More than %(max)s points in total; the remaining shapes are not drawn."),
)
_roi("invalid_name", _LABEL + r": name is not text\.", gettext_lazy("%(shape)s: name is not text."))
_roi(
    "invalid_properties",
    _LABEL + r": properties is not an object\.",
    gettext_lazy("%(shape)s: properties is not an object."),
)
_roi(
    "out_of_frame",
    _LABEL + r" has points outside any 3840×2160 frame \(or negative\); it is drawn where it is\.",
    gettext_lazy(
        "%(shape)s has points outside any 3840×2160 frame (or negative); it is drawn where it is."
    ),
)
_roi(
    "self_intersecting",
    _LABEL + r" has crossing edges; the upstream expects a simple polygon\.",
    gettext_lazy("%(shape)s has crossing edges; the upstream expects a simple polygon."),
)


def _shape_label(kind: str, number: str, name: str | None) -> str:
    if kind == "Polygon":
        label = _("Polygon %(number)s") % {"number": number}
    else:
        label = _("Line %(number)s") % {"number": number}
    return f"{label} ({name})" if name else label


def roi_problem_message(problem: dict[str, Any]) -> str:
    """One ROI problem's message in the active language (matched by code, then by its form)."""
    message = str(problem.get("message") or "")
    if is_english():
        return message
    for pattern, text in ROI_PROBLEMS.get(str(problem.get("code")), []):
        match = pattern.match(message)
        if match is None:
            continue
        params = match.groupdict()
        if params.get("kind"):
            params["shape"] = _shape_label(params["kind"], params["n"], params.get("name"))
        return str(text) % params if "%(" in str(text) else str(text)
    return message


def localized_roi(roi: dict[str, Any]) -> dict[str, Any]:
    """A copy of a normalised ROI whose problems read in the active language."""
    problems = roi.get("problems") or []
    if not problems or is_english():
        return roi
    return {
        **roi,
        "problems": [{**p, "message": roi_problem_message(p)} for p in problems],
    }
