"""The one error catalogue: every code the pages and the API answer with, declared once.

An entry says the HTTP status, a title, what happened (the message template, plus templates for the
more specific reasons the same code has), what to do next and which links help. Texts are marked
with ``gettext_noop`` and translated once, at the edge (the page render, the API exception handler,
a serializer) in the request's language; what is raised, cached or stored is a `Message`: a code,
an optional reason and the params, never a sentence.

Adding a code is one `entry(...)` call below. The upstream client (`tasks.vas`, no Django) raises
`VasError`s that carry only a code, a reason and params; the statuses are decided here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import get_language, gettext, gettext_noop, ngettext

from tasks.roi import problem_template

#: Links an entry may offer (`tasks.web.views.task_pages` builds them; each only when it applies).
LINKS = frozenset({"lookup", "browse", "edit", "check", "retry", "cached", "open"})


@dataclass(frozen=True)
class ErrorEntry:
    """One code: its status, title, message, next step and links. Texts are msgids."""

    code: str
    status: int
    title: str
    message: str
    next_step: str
    links: tuple[str, ...] = ()
    #: reason -> a more specific message template for the same code.
    reasons: Mapping[str, str] = field(default_factory=dict)
    #: reason -> its own status, only where the contract gives one code two statuses.
    statuses: Mapping[str, int] = field(default_factory=dict)
    #: Params and extra members of the OpenAPI example (`upstream`, `details`).
    example: Mapping[str, Any] = field(default_factory=dict)

    def template(self, reason: str = "") -> str:
        return self.reasons.get(reason, self.message) if reason else self.message

    def status_for(self, reason: str = "") -> int:
        return self.statuses.get(reason, self.status)


CATALOGUE: dict[str, ErrorEntry] = {}


def entry(
    code: str,
    status: int,
    *,
    title: str,
    message: str,
    next_step: str,
    links: tuple[str, ...] = (),
    reasons: Mapping[str, str] | None = None,
    statuses: Mapping[str, int] | None = None,
    example: Mapping[str, Any] | None = None,
) -> ErrorEntry:
    """Declares one code (once: a second declaration is a bug). Texts are marked with
    `gettext_noop` where they are written, so makemessages finds them."""
    if code in CATALOGUE:
        raise ValueError(f"error code {code!r} is declared twice")
    declared = ErrorEntry(
        code=code,
        status=status,
        title=title,
        message=message,
        next_step=next_step,
        links=links,
        reasons=dict(reasons or {}),
        statuses=dict(statuses or {}),
        example=dict(example or {}),
    )
    unknown = set(links) - LINKS
    if unknown:
        raise ValueError(f"unknown links {sorted(unknown)} for {code!r}")
    if set(declared.statuses) - set(declared.reasons):
        raise ValueError(f"{code!r} gives a status to a reason it does not declare")
    CATALOGUE[code] = declared
    return declared


def error_entry(code: str) -> ErrorEntry:
    """The entry of `code`; an unknown code (a bug) reads as the generic upstream error."""
    return CATALOGUE.get(code) or CATALOGUE["upstream_error"]


def http_status(code: str, reason: str = "") -> int:
    return error_entry(code).status_for(reason)


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Message:
    """What happened, as data: a catalogue code, an optional reason, and the params of its
    template. Stored and cached as `as_dict()`, rendered with `render()` in the active language."""

    code: str
    reason: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        stored: dict[str, Any] = {"code": self.code, "params": dict(self.params)}
        if self.reason:
            stored["reason"] = self.reason
        return stored

    @classmethod
    def from_dict(cls, stored: Any) -> Message | None:
        if not isinstance(stored, Mapping) or not isinstance(stored.get("code"), str):
            return None
        params = stored.get("params")
        return cls(
            code=stored["code"],
            reason=str(stored.get("reason") or ""),
            params=dict(params) if isinstance(params, Mapping) else {},
        )

    def render(self) -> str:
        notice = NOTICES.get(self.code)
        if notice is not None:
            return notice(self.params)
        return fill(error_entry(self.code).template(self.reason), self.params)


def fill(template: str, params: Mapping[str, Any]) -> str:
    """`template` translated, with `params` put in; missing params never make a 500."""
    text = gettext(template)
    if "%(" not in text:
        return text
    try:
        return text % _Params(params)
    except (TypeError, ValueError):
        return gettext(template)


class _Params(dict):
    """Params for `%` formatting: a missing one is shown as "?" rather than raising."""

    def __missing__(self, key: str) -> str:
        return "?"


def sentence_gap() -> str:
    """What goes between two sentences: nothing in Chinese (its full stop is wide), a space else."""
    return "" if (get_language() or "").lower().startswith("zh") else " "


def join_sentences(*texts: str) -> str:
    return sentence_gap().join(text for text in texts if text)


def upstream_said(error_code: str | None, error_msg: str | None) -> str:
    """ "Upstream said: …" with the upstream's own words, never translated ("" when it said
    nothing)."""
    said = " ".join(part for part in (error_code, error_msg) if part)
    return gettext("Upstream said: %(detail)s") % {"detail": said} if said else ""


def wait_seconds(seconds: float) -> str:
    whole = retry_after_seconds(seconds)
    return ngettext(
        "Wait %(seconds)d second before retrying.",
        "Wait %(seconds)d seconds before retrying.",
        whole,
    ) % {"seconds": whole}


def retry_after_seconds(seconds: float) -> int:
    """Whole seconds to wait, rounded up, at least 1: the one `Retry-After` value (RFC 9110
    allows only a non-negative integer, and 0 would invite an immediate retry)."""
    return max(1, math.ceil(seconds))


def set_retry_after(response: Any, seconds: float | None) -> None:
    """The one way a `Retry-After` header is written (pages and API); nothing when the wait is
    unknown."""
    if seconds:
        response["Retry-After"] = str(retry_after_seconds(seconds))


# --------------------------------------------------------------------------- errors


class PortalError(Exception):
    """An error with a catalogue code (its HTTP status comes from there) and the params of its
    message. Raised by services and selectors for the pages and the API alike; never carries a
    secret. `retry_after` (seconds) becomes the `Retry-After` header."""

    code = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        *,
        reason: str = "",
        params: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        if code:
            self.code = code
        self.reason = reason
        self.params = dict(params or {})
        self.retry_after = retry_after
        super().__init__(self.code, reason)

    @property
    def http_status(self) -> int:
        return http_status(self.code, self.reason)

    def __str__(self) -> str:
        return f"{self.code}" + (f" ({self.reason})" if self.reason else "")


class NotFound(PortalError, Http404):
    """Nothing there, or not visible to the user: 404 `not_found` in the API, the 404 page (or
    the task error page) on the pages. The reason says what was looked for."""

    code = "not_found"


class Forbidden(PortalError, PermissionDenied):
    """Signed in but not allowed: 403 `permission_denied` in the API, the 403 page on the pages."""

    code = "permission_denied"


class CredentialsUnavailable(PortalError):
    """The project's stored secrets cannot be decrypted (unknown key) or are missing."""

    code = "credentials_unavailable"


def error_message(exc: Any) -> Message:
    """The `Message` of a PortalError or a `tasks.vas` VasError (duck-typed: both carry a code,
    a reason and params)."""
    return Message(
        str(getattr(exc, "code", "upstream_error")),
        str(getattr(exc, "reason", "") or ""),
        dict(getattr(exc, "params", None) or {}),
    )


def error_text(exc: Any, *, with_retry: bool = True) -> str:
    """An error's message in the active language: the catalogue's words, then what the upstream
    said (verbatim), then how long to wait."""
    upstream = upstream_said(getattr(exc, "error_code", None), getattr(exc, "error_msg", None))
    retry_after = getattr(exc, "retry_after", None)
    wait = wait_seconds(retry_after) if with_retry and retry_after else ""
    return join_sentences(error_message(exc).render(), upstream, wait)


def stored_error(exc: Any) -> dict[str, Any]:
    """An error as it is kept (a stale copy's reason, a connection check): code, reason, params
    and what the upstream said, no sentence."""
    stored = error_message(exc).as_dict()
    for name in ("error_code", "error_msg"):
        if getattr(exc, name, None):
            stored.setdefault("upstream", {})[name] = getattr(exc, name)
    return stored


def stored_text(stored: Any) -> str:
    """A kept message (`stored_error`, `Message.as_dict`) in the active language; "" if none."""
    message = Message.from_dict(stored)
    if message is None:
        return ""
    upstream = stored.get("upstream") if isinstance(stored.get("upstream"), Mapping) else {}
    return join_sentences(
        message.render(), upstream_said(upstream.get("error_code"), upstream.get("error_msg"))
    )


def stored_contract_error(stored: Any) -> dict[str, str] | None:
    """A kept error as the contract shows it: `{"code", "message"}` in the active language."""
    message = Message.from_dict(stored)
    if message is None:
        return None
    return {"code": message.code, "message": stored_text(stored)}


# --------------------------------------------------------------------------- ROI problems


def shape_label(params: Mapping[str, Any]) -> str:
    """ "Polygon 2 ('door')" in the active language, from a problem's kind, number and name."""
    if params.get("kind") == "line":
        label = gettext("Line %(number)s") % {"number": params.get("number")}
    else:
        label = gettext("Polygon %(number)s") % {"number": params.get("number")}
    name = params.get("name")
    return f"{label} ({name!r})" if isinstance(name, str) and name else label


def roi_problem_text(problem: Mapping[str, Any]) -> str:
    """One ROI problem (`tasks.roi`: code, reason, params) in the active language."""
    if "params" not in problem and isinstance(problem.get("message"), str):
        return problem["message"]  # worded before problems were data (an old cached copy)
    params = dict(problem.get("params") or {})
    if "kind" in params and "number" in params:
        params["shape"] = shape_label(params)
    return fill(problem_template(dict(problem)), params)


def roi_for_reader(roi: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's `roi`: each problem as `{"code", "message"}`, in the active language."""
    problems = roi.get("problems") or []
    return {
        **roi,
        "problems": [{"code": p.get("code"), "message": roi_problem_text(p)} for p in problems],
    }


# --------------------------------------------------------------------------- notices


def _connected(params: Mapping[str, Any]) -> str:
    count: int = params["count"] if isinstance(params.get("count"), int) else 0
    return ngettext(
        "Connected: %(count)d task in service %(service)s.",
        "Connected: %(count)d tasks in service %(service)s.",
        count,
    ) % {"count": count, "service": params.get("service")}


def _connected_vias(params: Mapping[str, Any]) -> str:
    given = params.get("count")
    count = given if isinstance(given, int) else 0
    # The first page of the VIAS list: VIAS gives no total.
    return ngettext(
        "Connected: %(count)d VIAS task on the first page.",
        "Connected: %(count)d VIAS tasks on the first page.",
        count,
    ) % {"count": count}


def _checked_both(params: Mapping[str, Any]) -> str:
    """A connection test of VAS and VIAS: each part as it was stored."""
    return gettext("VAS: %(vas)s | VIAS: %(vias)s") % {
        "vas": stored_text(params.get("vas")) or "?",
        "vias": stored_text(params.get("vias")) or "?",
    }


#: Stored messages that are not errors (a connection test that worked): code -> its wording.
NOTICES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "connected": _connected,
    "connected_vias": _connected_vias,
    "checked_both": _checked_both,
}


# --------------------------------------------------------------------------- the catalogue

_UPSTREAM = {
    "status": 404,
    "error_code": "IVA.0404",
    "error_msg": "task not found",
    "request_id": "3b1b3c0e5c7e4f0f9d4a1e2b6c8d9f00",
}

# ---- the request itself
entry(
    "bad_request",
    400,
    title=gettext_noop("Bad request"),
    message=gettext_noop("The request is malformed."),
    next_step=gettext_noop("Check what was sent and try again."),
)
entry(
    "invalid",
    400,
    title=gettext_noop("Some fields are invalid"),
    message=gettext_noop("Some fields are invalid; see details."),
    next_step=gettext_noop("Correct the fields named in the details and send the request again."),
    example={"details": {"name": ["This field is required."], "colour": ["Unknown field."]}},
)
entry(
    "parse_error",
    400,
    title=gettext_noop("The request body is not valid JSON"),
    message=gettext_noop("The request body could not be parsed."),
    next_step=gettext_noop("Send a JSON object with the Content-Type application/json."),
)
entry(
    "invalid_task_id",
    400,
    title=gettext_noop("That is not a task id"),
    message=gettext_noop("“%(value)s” is not a valid task id (1–64 letters, digits, '_' or '-')."),
    next_step=gettext_noop(
        "Task ids are 32 hexadecimal characters (or “task” and 8 more). Copy it again from "
        "the console, or find the task by name in the service's task list."
    ),
    links=("lookup",),
    example={"params": {"value": "a/b"}},
)
entry(
    "invalid_service",
    400,
    title=gettext_noop("That is not a service name"),
    message=gettext_noop(
        "“%(value)s” is not a valid service name (1–64 letters, digits, '_' or '-')."
    ),
    next_step=gettext_noop(
        "Service names look like c-face-edge. Pick one of the suggestions in the lookup form."
    ),
    links=("lookup",),
    example={"params": {"value": "?"}},
)
entry(
    "invalid_state",
    400,
    title=gettext_noop("Unknown state filter"),
    message=gettext_noop("Unknown state “%(state)s”. Choose one of: %(states)s."),
    next_step=gettext_noop("Pick a state from the list."),
    links=("browse",),
    # Start / stop in a state where they make no sense: answered 409 (tasks.services.task_actions).
    reasons={
        "not_startable": gettext_noop(
            "The task is %(state)s: starting it makes no sense. Nothing was sent upstream."
        ),
        "not_stoppable": gettext_noop(
            "The task is %(state)s: stopping it makes no sense. Nothing was sent upstream."
        ),
    },
    statuses={"not_startable": 409, "not_stoppable": 409},
    example={"params": {"state": "X", "states": "PENDING, RUNNING, …"}},
)
entry(
    "invalid_page",
    400,
    title=gettext_noop("No such page"),
    message=gettext_noop("offset must be 0–100000 and limit 1–%(max)d."),
    next_step=gettext_noop("Go back to the first page of the list."),
    links=("browse",),
    reasons={
        # The VIAS list pages by number (VAS-API.md §10).
        "vias": gettext_noop("page must be %(first)d or more and page_size %(min)d–%(max)d."),
    },
    example={"params": {"max": 100}},
)
entry(
    "request_too_large",
    413,
    title=gettext_noop("Request too large"),
    message=gettext_noop("The request body is too large."),
    next_step=gettext_noop("Send a smaller body."),
)
entry(
    "unsupported_media_type",
    415,
    title=gettext_noop("Unsupported media type"),
    message=gettext_noop("The request body's media type is not supported."),
    next_step=gettext_noop("Send JSON with the Content-Type application/json."),
)
entry(
    "method_not_allowed",
    405,
    title=gettext_noop("Method not allowed"),
    message=gettext_noop("Method not allowed."),
    next_step=gettext_noop("See the API documentation for the methods of this URL."),
)
entry(
    "not_acceptable",
    406,
    title=gettext_noop("Not acceptable"),
    message=gettext_noop("The portal answers JSON only."),
    next_step=gettext_noop("Accept application/json."),
)

# ---- who is asking
entry(
    "not_authenticated",
    401,
    title=gettext_noop("Not signed in"),
    message=gettext_noop("Authentication credentials were not provided."),
    next_step=gettext_noop("Send `Authorization: Token <key>`, or sign in."),
)
entry(
    "authentication_failed",
    401,
    title=gettext_noop("Authentication failed"),
    message=gettext_noop("Invalid token."),
    next_step=gettext_noop("The token is wrong, expired or revoked: create a new one."),
)
entry(
    "permission_denied",
    403,
    title=gettext_noop("Not allowed"),
    message=gettext_noop("You do not have permission to perform this action."),
    next_step=gettext_noop("Ask one of the project's admins."),
    reasons={
        "admins_only": gettext_noop("Only the project's admins may do this."),
        "staff_only": gettext_noop("Only staff users may create projects."),
    },
)
entry(
    "token_limit_reached",
    403,
    title=gettext_noop("Too many API tokens"),
    message=gettext_noop(
        "You already have %(limit)d API tokens; revoke one before creating another."
    ),
    next_step=gettext_noop("Revoke a token you no longer use on /account/tokens/."),
    example={"params": {"limit": 100}},
)
entry(
    "locked_out",
    429,
    title=gettext_noop("Locked out"),
    message=gettext_noop(
        "Too many failed logins for this user from this address; try again later."
    ),
    next_step=gettext_noop("Wait for the lock to expire, then sign in with the right password."),
)
entry(
    "throttled",
    429,
    title=gettext_noop("Refreshed too often"),
    message=gettext_noop("Request was throttled."),
    next_step=gettext_noop(
        "Wait a moment before asking for fresh data again; the cached copy is fine."
    ),
    links=("cached",),
    reasons={
        "refresh": gettext_noop("Refresh asked too often; the cached copy is still shown."),
        "upstream_budget": gettext_noop(
            "Too many requests reached the upstream (your budget or the project's); what the "
            "portal has cached is still shown."
        ),
    },
    example={"reason": "refresh"},
)

# ---- what is asked for
entry(
    "not_found",
    404,
    title=gettext_noop("Not found"),
    message=gettext_noop("Not found."),
    next_step=gettext_noop(
        "It does not exist, or it belongs to a project you are not a member of. A task's history "
        "starts when the portal first opens the task."
    ),
    links=("open", "lookup"),
    reasons={
        "project": gettext_noop("No such project."),
        "member": gettext_noop("No such member of this project."),
        "token": gettext_noop("No such token."),
        "snapshot": gettext_noop("No such snapshot of this task."),
        # The same condition on the pages and in the API: a task the portal never fetched.
        "not_fetched": gettext_noop(
            "The portal has not fetched this task yet, so it has no history. Open the task first."
        ),
        "page": gettext_noop("Invalid page."),
        "frame": gettext_noop("This task has no reference still."),
    },
    example={"reason": "project"},
)
entry(
    "credentials_unavailable",
    409,
    title=gettext_noop("Credentials unavailable"),
    message=gettext_noop(
        "The stored credentials of this project cannot be decrypted with the configured keys. "
        "An admin can enter the credentials again on the project's edit page."
    ),
    next_step=gettext_noop(
        "The portal cannot read this project's stored credentials (missing, or encrypted with "
        "a retired key). Edit the project and enter them again."
    ),
    links=("edit",),
    reasons={
        "undecryptable": gettext_noop(
            "The stored credentials of project “%(name)s” cannot be decrypted with the "
            "configured PORTAL_CREDENTIALS_KEYS (was a key removed?). An admin can enter the "
            "credentials again on the project's edit page."
        ),
        "incomplete": gettext_noop(
            "Project “%(name)s” has no complete credentials for its authentication type. "
            "An admin can enter them on the project's edit page."
        ),
    },
    example={"reason": "undecryptable", "params": {"name": "Lobby"}},
)
entry(
    "server_error",
    500,
    title=gettext_noop("Server error"),
    message=gettext_noop("An unexpected error occurred; it has been logged."),
    next_step=gettext_noop("Try again later; if it keeps happening, tell an administrator."),
)

# ---- the upstream (raised by tasks.vas with these codes; the statuses are the contract's)
entry(
    "upstream_error",
    502,
    title=gettext_noop("Something went wrong talking to the upstream"),
    message=gettext_noop("The VAS upstream call failed. Try again later."),
    next_step=gettext_noop("Try again in a moment."),
    links=("retry",),
)
entry(
    "task_not_found",
    404,
    title=gettext_noop("Task not found"),
    message=gettext_noop(
        "The VAS upstream has no such task. Check the task id and the service name "
        "(tasks are listed per service)."
    ),
    next_step=gettext_noop(
        "The upstream has no task with this id under this service. Check the service (tasks "
        "are listed per service) or find the task by name in the list."
    ),
    links=("browse", "lookup"),
    reasons={
        "vias": gettext_noop(
            "The VIAS upstream has no task with this id in this project. Check the task id, or "
            "find the task by name in the VIAS list."
        ),
    },
    example={"upstream": _UPSTREAM},
)
entry(
    "upstream_bad_request",
    400,
    title=gettext_noop("The upstream rejected the request"),
    message=gettext_noop(
        "The VAS upstream rejected the request as invalid. Check the project id, service name "
        "and filters."
    ),
    next_step=gettext_noop(
        "Check the project's upstream project id and the service name; an admin can fix them "
        "by editing the project."
    ),
    links=("edit", "lookup"),
    reasons={
        "invalid_path": gettext_noop("The service name or task id cannot be sent to the upstream.")
    },
    example={"upstream": {**_UPSTREAM, "status": 400, "error_code": "IVA.0400"}},
)
entry(
    "upstream_auth_failed",
    502,
    title=gettext_noop("Credentials rejected"),
    message=gettext_noop(
        "The VAS upstream refused the project's credentials. Ask a project admin to check or "
        "replace them."
    ),
    next_step=gettext_noop(
        "The upstream refused the project's credentials — edit the project and replace them "
        "(or ask a project admin to), then test the connection."
    ),
    links=("edit", "check"),
    reasons={
        "unsendable": gettext_noop(
            "The project's credentials contain characters that cannot be sent in an HTTP header "
            "(a line break or a non-ASCII character). Ask a project admin to enter them again."
        ),
        "iam_refused": gettext_noop(
            "IAM refused the project's domain, user name or password. Ask a project admin to "
            "check the credentials."
        ),
    },
    example={"upstream": {**_UPSTREAM, "status": 401, "error_code": "APIGW.0301"}},
)
entry(
    "upstream_forbidden",
    502,
    title=gettext_noop("Not allowed by the cloud account"),
    message=gettext_noop(
        "The credentials are valid but not allowed to do this (subscription or IAM policy). "
        "Ask the cloud account owner to grant VAS access."
    ),
    next_step=gettext_noop(
        "The credentials work but may not use VAS (no subscription or an IAM policy). Ask the "
        "cloud account owner to grant VAS access to this user."
    ),
    links=("retry",),
    example={"upstream": {**_UPSTREAM, "status": 403, "error_code": "APIGW.0302"}},
)
entry(
    "upstream_unavailable",
    503,
    title=gettext_noop("The upstream is unavailable"),
    message=gettext_noop("The VAS upstream is unavailable right now. Try again in a moment."),
    next_step=gettext_noop("This is usually temporary. Try again in a moment."),
    links=("retry",),
    reasons={
        "rate_limited": gettext_noop(
            "The VAS upstream is rate limiting the portal's requests (HTTP 429)."
        ),
        "server_error": gettext_noop(
            "The VAS upstream failed (HTTP %(status)s) even after retrying. Try again in a moment."
        ),
        "unreachable": gettext_noop(
            "The VAS upstream could not be reached or dropped the connection. "
            "Try again in a moment."
        ),
        "dropped": gettext_noop(
            "The VAS upstream dropped the connection in the middle of its answer. "
            "Try again in a moment."
        ),
        "tls": gettext_noop(
            "The TLS connection to the VAS upstream failed (certificate or protocol). "
            "Check the endpoint setting."
        ),
        "unresolvable": gettext_noop(
            "The endpoint host %(host)s could not be resolved. Check the endpoint setting and "
            "the server's DNS."
        ),
        "iam_unreachable": gettext_noop(
            "IAM could not be reached to obtain a token. Check the IAM endpoint, then retry."
        ),
        "busy": gettext_noop(
            "Another request is already fetching this task and it did not finish in time. "
            "Try again in a few seconds."
        ),
    },
    example={
        "reason": "server_error",
        "params": {"status": 503},
        "upstream": {**_UPSTREAM, "status": 503, "error_code": None, "error_msg": None},
    },
)
entry(
    "upstream_timeout",
    504,
    title=gettext_noop("The upstream did not answer in time"),
    message=gettext_noop("The VAS upstream did not answer in time. Try again in a moment."),
    next_step=gettext_noop("Try again in a moment; if it keeps happening, test the connection."),
    links=("retry", "check"),
    reasons={
        "slow_body": gettext_noop("The VAS upstream was too slow sending its answer."),
        "iam": gettext_noop("IAM did not answer in time when asked for a token."),
    },
)
entry(
    "upstream_invalid_response",
    502,
    title=gettext_noop("The upstream sent an unusable answer"),
    message=gettext_noop(
        "The VAS upstream sent an answer the portal cannot use. Check the endpoint setting; "
        "if it is right, try again later."
    ),
    next_step=gettext_noop(
        "Check that the project's VAS endpoint is right (edit the project); if it is, try "
        "again later."
    ),
    links=("edit", "retry"),
    reasons={
        "not_json": gettext_noop(
            "The VAS upstream answered with something that is not valid JSON (an HTML error "
            "page or a proxy?). Check the endpoint setting."
        ),
        "not_an_object": gettext_noop("The VAS upstream answered with JSON that is not an object."),
        "not_a_task": gettext_noop(
            "The VAS upstream answered with JSON that is not a task (no id or state). "
            "Check the endpoint setting."
        ),
        "not_a_list": gettext_noop(
            "The VAS upstream answered the task list with JSON of the wrong shape "
            "(count and tasks expected). Check the endpoint setting."
        ),
        "too_large": gettext_noop(
            "The VAS upstream's answer is larger than %(max_mib)s MiB; the portal refuses it."
        ),
        "undecodable": gettext_noop("The VAS upstream sent a body that could not be decompressed."),
        "redirect": gettext_noop(
            "The VAS upstream answered with a redirect (HTTP %(status)s), which the portal "
            "does not follow. Check the endpoint setting."
        ),
        "iam_no_token": gettext_noop(
            "IAM answered without an X-Subject-Token header. Check the IAM endpoint."
        ),
        "iam_unusable": gettext_noop(
            "IAM sent an answer the portal cannot use (too large, not decodable or a redirect). "
            "Check the IAM endpoint."
        ),
        "unexpected_status": gettext_noop(
            "The VAS upstream answered with an unexpected HTTP %(status)s. Check the endpoint "
            "setting."
        ),
        "masked_secret": gettext_noop(
            "The upstream showed masked secret values in the task; updating it would overwrite "
            "them, so the portal did not send the update."
        ),
    },
)
entry(
    "endpoint_not_allowed",
    502,
    title=gettext_noop("Endpoint not allowed"),
    message=gettext_noop(
        "The endpoint resolves to an address the portal may not call (private, loopback or "
        "link-local). Ask an administrator to check the project's endpoint."
    ),
    next_step=gettext_noop(
        "The project's endpoint points at an address the portal may not call. Edit the "
        "project and use the region's VAS endpoint."
    ),
    links=("edit",),
    reasons={
        "not_listed": gettext_noop(
            "The endpoint host %(host)s is not on the list of allowed upstream hosts."
        ),
        "not_public": gettext_noop(
            "The endpoint host %(host)s resolves to a non-public address; the portal refuses to "
            "call it. Ask an administrator to check the endpoint."
        ),
    },
)

# ---- acting on tasks (tasks.services.task_actions, task_roi, frames)
entry(
    "invalid_roi",
    400,
    title=gettext_noop("The ROI has problems"),
    message=gettext_noop("The region of interest has problems; nothing was sent upstream."),
    next_step=gettext_noop("Fix the problems listed for each shape, then apply again."),
    example={
        "problems": [
            {
                "code": "self_intersecting",
                "shape": 0,
                "message": "Shape 1 has edges that cross; the upstream expects a simple polygon.",
            }
        ]
    },
)
entry(
    "version_conflict",
    409,
    title=gettext_noop("The task changed meanwhile"),
    message=gettext_noop(
        "The task changed upstream since the editor loaded it (now version %(current)s). Reload "
        "the editor, check the change and apply again."
    ),
    next_step=gettext_noop("Reload the editor: it starts from the current version."),
    links=("open",),
    example={"params": {"current": 8}, "current_snapshot_id": 8},
)
entry(
    "invalid_image",
    400,
    title=gettext_noop("Not a usable image"),
    message=gettext_noop("This is not a JPEG or PNG image."),
    next_step=gettext_noop(
        "Upload a JPEG or PNG still of the camera, at most 10 MiB and 8,192 pixels a side."
    ),
    reasons={
        "too_large": gettext_noop("The image is larger than %(mib)s MiB."),
        "empty": gettext_noop("The body is empty: send a JPEG or PNG image."),
        "declared_too_big": gettext_noop(
            "The image declares more than %(max)s pixels a side; it is refused unread."
        ),
        "too_many_pixels": gettext_noop(
            "The image is %(w)s×%(h)s pixels; at most %(max)s pixels a side are accepted."
        ),
        "no_pixels": gettext_noop("The image has no pixels."),
        "damaged": gettext_noop("The image is damaged or truncated and cannot be read."),
        "no_file": gettext_noop("Choose a JPEG or PNG image to upload."),
        "no_field": gettext_noop("Send the image in the multipart field “image”."),
    },
)
# --------------------------------------------------------------------------- hardening (issue 18)

entry(
    "edit_conflict",
    409,
    title=gettext_noop("Edited meanwhile"),
    message=gettext_noop(
        "Someone else changed this project since you read it. Reload it, check their change "
        "and make yours again."
    ),
    next_step=gettext_noop(
        "Read the project again (GET), then send your change with the new updated_at."
    ),
    # Two admins applying an ROI change to one task at once: the second waits for the first.
    reasons={
        "roi_in_progress": gettext_noop(
            "Another change of this task's ROI is being applied. Reload and try again."
        ),
    },
)
entry(
    "otp_required",
    401,
    title=gettext_noop("Two-factor code needed"),
    message=gettext_noop(
        "This user has two-factor login: send the current code of the authenticator app (or a "
        "recovery code) as “otp”."
    ),
    next_step=gettext_noop("Send the code of your authenticator app in the “otp” field."),
    reasons={
        "enrol": gettext_noop(
            "Your account needs two-factor login: enrol on the portal's “Two-factor login” "
            "page, then ask for a token with a code."
        ),
        "session": gettext_noop("Enter your two-factor code on the portal first."),
        "session_enrol": gettext_noop(
            "Your account needs two-factor login: enrol on the portal first."
        ),
    },
)
entry(
    "otp_invalid",
    401,
    title=gettext_noop("Two-factor code wrong"),
    message=gettext_noop("The two-factor code is wrong, already used or tried too often."),
    next_step=gettext_noop(
        "Send the code your authenticator app shows now (each works once), or a recovery code; "
        "after several wrong codes wait a little."
    ),
)


class EditConflict(PortalError):
    """An edit based on a version of a project that someone else has changed since."""

    code = "edit_conflict"


class OtpRequired(PortalError):
    """Two-factor login: a code is needed (reason "enrol": enrolment comes first)."""

    code = "otp_required"


class OtpInvalid(PortalError):
    """Two-factor login: the code given is wrong, used or throttled."""

    code = "otp_invalid"


# ---- the monitor (channels, mute, deliveries)
entry(
    "invalid_channel",
    400,
    title=gettext_noop("The channel cannot be saved"),
    message=gettext_noop("The channel's settings are not valid."),
    next_step=gettext_noop(
        "Correct the channel: a target the portal may send to, a name, a kind and at least one "
        "severity."
    ),
    reasons={
        "name": gettext_noop("A channel's name is 1–100 characters."),
        "duplicate": gettext_noop("The project already has a channel with this name."),
        "kind": gettext_noop("The kind is webhook, email or apprise."),
        "kind_target": gettext_noop("A new kind needs a new target."),
        "severities": gettext_noop("Severities are one or more of problem, recovery and info."),
        "language": gettext_noop("The language is en or zh-hans."),
        "target_missing": gettext_noop("Enter a target."),
        "too_long": gettext_noop("The target is too long."),
        "headers": gettext_noop("Headers are an object of at most 10 names and text values."),
        "header_chars": gettext_noop("A header contains a character that cannot be sent."),
        "headers_kind": gettext_noop("Only webhook channels send headers."),
        "emails": gettext_noop("Enter up to 20 email addresses, separated by commas."),
        "url": gettext_noop("The URL is not valid."),
        "scheme": gettext_noop("The URL must start with https:// or http:// and name a host."),
        "apprise_unknown": gettext_noop(
            "Apprise does not understand this URL (see its list of services)."
        ),
        "apprise_unchecked": gettext_noop(
            "This Apprise service sends nowhere the portal can check."
        ),
        "apprise_host": gettext_noop(
            "The host of this Apprise URL is not allowed, or could not be resolved."
        ),
        "no_host": gettext_noop("The target has no host name."),
        "host_not_allowed": gettext_noop(
            "The host %(host)s is not on the list of allowed notification hosts."
        ),
        "host_unresolved": gettext_noop("The host %(host)s could not be resolved."),
        "host_odd": gettext_noop("The host %(host)s has an odd address."),
        "host_private": gettext_noop(
            "The host %(host)s is a private, loopback or link-local address; the portal sends "
            "there only when PORTAL_NOTIFY_ALLOWED_HOSTS lists it."
        ),
    },
    example={"reason": "host_private", "params": {"host": "10.0.0.1"}},
)
entry(
    "notification_failed",
    502,
    title=gettext_noop("The notification was not delivered"),
    message=gettext_noop("The notification could not be delivered."),
    next_step=gettext_noop(
        "Check the channel's target and the receiver; the portal retries for a while, and "
        "Send test tries again now."
    ),
    reasons={
        "timeout": gettext_noop("The receiver did not answer in time."),
        "unreachable": gettext_noop("The receiver could not be reached."),
        "http": gettext_noop("The receiver answered HTTP %(status)s."),
        "redirects": gettext_noop("The receiver redirected too often."),
        "apprise_http": gettext_noop("The Apprise service answered HTTP %(status)s."),
        "apprise": gettext_noop("The Apprise service did not accept the notification."),
        "email": gettext_noop("The email could not be sent (%(error)s)."),
        "undecryptable": gettext_noop(
            "The channel's target cannot be decrypted with the configured keys; enter it again."
        ),
    },
)
entry(
    "invalid_mute",
    400,
    title=gettext_noop("The mute cannot be set"),
    message=gettext_noop("A mute ends in the future and at most 30 days from now."),
    next_step=gettext_noop("Choose an end time within the next 30 days."),
)
