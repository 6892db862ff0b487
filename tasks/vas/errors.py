"""Typed errors raised by the VAS client.

Each error says what happened as data: the contract's error ``code``, a ``reason`` and ``params``
for the specific case, plus what the upstream said (``status``, ``error_code``, ``error_msg``,
``request_id``). No sentence and no HTTP status of the portal's: the portal's error catalogue
(``tasks.errors``) has the words, in every language, and decides the statuses. Never a secret.
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
    """Base class: something went wrong talking to the VAS (or IAM) upstream.

    Says what happened, as data: the contract's ``code``, a ``reason`` naming the specific case
    (``""`` for the code's general one) and the ``params`` of its message, plus what the upstream
    said. The portal's catalogue (``tasks.errors``) holds the words and the HTTP status.
    """

    code: str = "upstream_error"
    #: code -> class, for errors rebuilt from what was remembered of them.
    by_code: dict[str, type[VasError]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        VasError.by_code[cls.code] = cls

    def __init__(
        self,
        reason: str = "",
        *,
        params: dict[str, Any] | None = None,
        status: int | None = None,
        error_code: str | None = None,
        error_msg: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.reason = reason
        self.params = dict(params or {})
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.retry_after = retry_after
        #: The richer VIAS error body's texts (``detail``, ``reason``, ``advice``; VAS-API.md
        #: §10), in the upstream's words; set by ``error_for_status`` when present.
        self.extras: dict[str, str] = {}
        super().__init__(self.code, reason)

    @classmethod
    def for_code(cls, code: str) -> type[VasError]:
        return cls.by_code.get(code, VasError)

    def upstream_dict(self) -> dict[str, Any] | None:
        """The contract's ``error.upstream`` object, or None when the upstream never answered."""
        if self.status is None and self.error_code is None and self.request_id is None:
            return None
        # VIAS adds detail, reason and advice; a VAS error keeps the contract's four keys.
        return {
            "status": self.status,
            "error_code": self.error_code,
            "error_msg": self.error_msg,
            "request_id": self.request_id,
            **self.extras,
        }

    def scrub(self, secrets: tuple[str, ...]) -> VasError:
        """Remove secret values from every text of this error (in place); returns self."""
        self.error_msg = scrub_text(self.error_msg, secrets)
        self.extras = {key: scrub_text(text, secrets) or "" for key, text in self.extras.items()}
        self.params = {
            name: scrub_text(value, secrets) if isinstance(value, str) else value
            for name, value in self.params.items()
        }
        return self

    def __str__(self) -> str:
        said = " ".join(str(p) for p in (self.status, self.error_code, self.error_msg) if p)
        return (
            self.code
            + (f" ({self.reason})" if self.reason else "")
            + (f": upstream said {said}" if said else "")
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r}, "
            f"status={self.status!r}, error_code={self.error_code!r}, "
            f"request_id={self.request_id!r})"
        )


class TaskNotFound(VasError):
    code = "task_not_found"


class UpstreamBadRequest(VasError):
    code = "upstream_bad_request"


class UpstreamAuthFailed(VasError):
    code = "upstream_auth_failed"


class UpstreamForbidden(VasError):
    code = "upstream_forbidden"


class UpstreamUnavailable(VasError):
    code = "upstream_unavailable"


class UpstreamTimeout(VasError):
    code = "upstream_timeout"


class UpstreamInvalidResponse(VasError):
    code = "upstream_invalid_response"


class EndpointNotAllowed(VasError):
    code = "endpoint_not_allowed"


#: The VIAS error body's extra texts (VAS-API.md §10), kept in the typed error and shown.
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
) -> VasError:
    """Map a non-2xx upstream answer to the matching typed error (with VIAS' extra texts)."""
    error = _error_for_status(status, body, request_id=request_id, retry_after=retry_after)
    error.extras = parse_error_extras(body)
    return error


def _error_for_status(
    status: int,
    body: bytes | str | None,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> VasError:
    error_code, error_msg = parse_error_body(body)
    kwargs: dict[str, Any] = {
        "status": status,
        "error_code": error_code,
        "error_msg": error_msg,
        "request_id": request_id,
    }
    if status == 404:
        return TaskNotFound(**kwargs)
    if status == 401:
        return UpstreamAuthFailed(**kwargs)
    if status == 403:
        return UpstreamForbidden(**kwargs)
    if status == 429:
        return UpstreamUnavailable("rate_limited", retry_after=retry_after, **kwargs)
    if 400 <= status < 500:
        return UpstreamBadRequest(**kwargs)
    if status >= 500:
        return UpstreamUnavailable(
            "server_error", params={"status": status}, retry_after=retry_after, **kwargs
        )
    return UpstreamInvalidResponse("unexpected_status", params={"status": status}, **kwargs)
