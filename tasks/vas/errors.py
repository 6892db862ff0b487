"""Typed errors raised by the VAS client.

Each error carries the contract's error ``code`` and the HTTP status the portal answers with
(``http_status``), plus what the upstream said (``status``, ``error_code``, ``error_msg``,
``request_id``). Messages say what happened and what to do, and never contain secrets.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Upstream text kept in an error (the SDK keeps the whole body; we cap it for logs and pages).
MAX_ERROR_TEXT = 500

# "…: ak XXXX not exist" names the access key, which the contract treats as a secret.
_AK_IN_TEXT = re.compile(r"(\bak\s+)([A-Za-z0-9]{4,})", re.IGNORECASE)


def scrub_text(text: str | None, secrets: tuple[str, ...] = ()) -> str | None:
    """Remove known secret values (and access keys quoted by the gateway) from ``text``."""
    if text is None:
        return None
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "******")
    return _AK_IN_TEXT.sub(r"\1******", text)


class VasError(Exception):
    """Base class: something went wrong talking to the VAS (or IAM) upstream."""

    code: str = "upstream_error"
    http_status: int = 502
    default_message: str = "The VAS upstream call failed. Try again later."
    #: The richer VIAS error body (VAS-API.md §10.3): set by ``error_for_status`` when present.
    detail: str | None = None
    reason: str | None = None
    advice: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        error_code: str | None = None,
        error_msg: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message: str = message or self.default_message
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self.message)

    def upstream_dict(self) -> dict[str, Any] | None:
        """The contract's ``error.upstream`` object, or None when the upstream never answered."""
        if self.status is None and self.error_code is None and self.request_id is None:
            return None
        upstream: dict[str, Any] = {
            "status": self.status,
            "error_code": self.error_code,
            "error_msg": self.error_msg,
            "request_id": self.request_id,
        }
        # VIAS adds these; a VAS error (or a VIAS one without them) keeps the contract's four keys.
        for key in ERROR_EXTRAS:
            if getattr(self, key) is not None:
                upstream[key] = getattr(self, key)
        return upstream

    def scrub(self, secrets: tuple[str, ...]) -> VasError:
        """Remove secret values from every text of this error (in place); returns self."""
        self.message = scrub_text(self.message, secrets) or self.default_message
        self.error_msg = scrub_text(self.error_msg, secrets)
        for key in ERROR_EXTRAS:
            if getattr(self, key) is not None:
                setattr(self, key, scrub_text(getattr(self, key), secrets))
        self.args = (self.message,)
        return self

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"error_code={self.error_code!r}, request_id={self.request_id!r})"
        )


class TaskNotFound(VasError):
    code = "task_not_found"
    http_status = 404
    default_message = (
        "The VAS upstream has no such task. Check the task id and the service name "
        "(tasks are listed per service)."
    )


class UpstreamBadRequest(VasError):
    code = "upstream_bad_request"
    http_status = 400
    default_message = (
        "The VAS upstream rejected the request as invalid. Check the project id, service name "
        "and filters."
    )


class UpstreamAuthFailed(VasError):
    code = "upstream_auth_failed"
    http_status = 502
    default_message = (
        "The VAS upstream refused the project's credentials. Ask a project admin to check or "
        "replace them."
    )


class UpstreamForbidden(VasError):
    code = "upstream_forbidden"
    http_status = 502
    default_message = (
        "The credentials are valid but not allowed to do this (subscription or IAM policy). "
        "Ask the cloud account owner to grant VAS access."
    )


class UpstreamUnavailable(VasError):
    code = "upstream_unavailable"
    http_status = 503
    default_message = "The VAS upstream is unavailable right now. Try again in a moment."


class UpstreamTimeout(VasError):
    code = "upstream_timeout"
    http_status = 504
    default_message = "The VAS upstream did not answer in time. Try again in a moment."


class UpstreamInvalidResponse(VasError):
    code = "upstream_invalid_response"
    http_status = 502
    default_message = (
        "The VAS upstream sent an answer the portal cannot use. Check the endpoint setting; "
        "if it is right, try again later."
    )


class EndpointNotAllowed(VasError):
    code = "endpoint_not_allowed"
    http_status = 502
    default_message = (
        "The endpoint resolves to an address the portal may not call (private, loopback or "
        "link-local). Ask an administrator to check the project's endpoint."
    )


#: The VIAS error body's extra texts (VAS-API.md §10.3), kept in the typed error and shown.
ERROR_EXTRAS = ("detail", "reason", "advice")


def parse_error_extras(body: bytes | str | None) -> dict[str, str]:
    """``detail``, ``reason`` and ``advice`` of a VIAS error body, where present (capped); a
    VAS body has none of them."""
    if not body:
        return {}
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    if isinstance(data.get("error"), dict):  # tolerate {"error": {...}} wrapping
        data = {**data["error"], **data}
    extras = {}
    for key in ERROR_EXTRAS:
        value = data.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
            extras[key] = str(value)[:MAX_ERROR_TEXT]
    return extras


def parse_error_body(body: bytes | str | None) -> tuple[str | None, str | None]:
    """Extract ``(error_code, error_msg)`` from an error body the way the official SDK does.

    Top-level ``error_code``/``error_msg``, else ``code``/``message``, else the first nested
    dict holding either pair; a body that is not a JSON object becomes the raw text (capped).
    """
    if body is None:
        return None, None
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        found = _find_code_msg(data, depth=0)
        if found is not None:
            return found
    text = text.strip()
    return None, (text[:MAX_ERROR_TEXT] if text else None)


def _find_code_msg(data: dict[str, Any], depth: int) -> tuple[str | None, str | None] | None:
    if depth > 5:
        return None
    for code_key, msg_key in (("error_code", "error_msg"), ("code", "message")):
        if code_key in data or msg_key in data:
            code, msg = data.get(code_key), data.get(msg_key)
            if code is not None or msg is not None:
                return (
                    None if code is None else str(code)[:100],
                    None if msg is None else str(msg)[:MAX_ERROR_TEXT],
                )
    for value in data.values():
        if isinstance(value, dict):
            found = _find_code_msg(value, depth + 1)
            if found is not None:
                return found
    return None


def error_for_status(
    status: int,
    body: bytes | str | None,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    what: str = "the request",
) -> VasError:
    """Map a non-2xx upstream answer to the matching typed error (with VIAS' extra texts)."""
    error = _error_for_status(
        status, body, request_id=request_id, retry_after=retry_after, what=what
    )
    for key, value in parse_error_extras(body).items():
        setattr(error, key, value)
    return error


def _error_for_status(
    status: int,
    body: bytes | str | None,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    what: str = "the request",
) -> VasError:
    error_code, error_msg = parse_error_body(body)
    detail = f" Upstream said: {error_code or status}" + (f" {error_msg}" if error_msg else "")
    kwargs: dict[str, Any] = {
        "status": status,
        "error_code": error_code,
        "error_msg": error_msg,
        "request_id": request_id,
    }
    cls: type[VasError]
    if status == 404:
        cls = TaskNotFound
    elif status == 401:
        cls = UpstreamAuthFailed
    elif status == 403:
        cls = UpstreamForbidden
    elif status == 429:
        wait = f" Wait {retry_after:g} s before retrying." if retry_after is not None else ""
        return UpstreamUnavailable(
            f"The VAS upstream is rate limiting {what} (HTTP 429).{wait}",
            retry_after=retry_after,
            **kwargs,
        )
    elif 400 <= status < 500:
        cls = UpstreamBadRequest
    elif status >= 500:
        return UpstreamUnavailable(
            f"The VAS upstream failed {what} (HTTP {status}) even after retrying. "
            "Try again in a moment.",
            retry_after=retry_after,
            **kwargs,
        )
    else:
        cls = UpstreamInvalidResponse
        return cls(
            f"The VAS upstream answered {what} with an unexpected HTTP {status}. Check the "
            "endpoint setting.",
            **kwargs,
        )
    return cls(cls.default_message + detail, **kwargs)
