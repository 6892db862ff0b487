"""One exception handler: every API error leaves as {"error": {"code", "message", ...}}.

The code and the status come from the error catalogue (`tasks.errors`); the message is worded here,
once, in the request's language (Accept-Language, or the language cookie). Codes never change.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from tasks.errors import (
    CATALOGUE,
    Message,
    PortalError,
    error_text,
    http_status,
    set_retry_after,
)
from tasks.vas.errors import VasError

#: The Django-level statuses answered outside DRF's views (an unknown route, a crash).
_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    500: "server_error",
}


def error_body(code: str, message: str, **extra: object) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), **extra}}


def error_response_for_status(status: int) -> JsonResponse:
    """For Django-level errors under /api/ (an unknown route, a crash) outside DRF's views."""
    code = _STATUS_CODES.get(status, "server_error" if status >= 500 else "bad_request")
    return JsonResponse(error_body(code, Message(code).render()), status=status)


def _portal_error(exc: PortalError | VasError) -> Response:
    upstream = exc.upstream_dict() if isinstance(exc, VasError) else None
    extra = {"upstream": upstream} if upstream else {}
    extra.update(getattr(exc, "extra", None) or {})  # e.g. invalid_roi's problems
    # A PortalError's status follows its reason (invalid_state: 409 for actions).
    status = exc.http_status if isinstance(exc, PortalError) else http_status(exc.code, exc.reason)
    response = Response(error_body(exc.code, error_text(exc), **extra), status=status)
    set_retry_after(response, exc.retry_after)
    return response


def _invalid(details: Any) -> Response:
    return Response(error_body("invalid", Message("invalid").render(), details=details), status=400)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, PortalError | VasError):
        return _portal_error(exc)
    if isinstance(exc, DjangoValidationError):
        # The services' errors, by field, exactly as the pages show them.
        return _invalid(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, RequestDataTooBig | SuspiciousOperation):
        return _portal_error(
            PortalError(
                "request_too_large" if isinstance(exc, RequestDataTooBig) else "bad_request"
            )
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django's 500 handler answers with the JSON 500 shape
    if isinstance(exc, exceptions.ValidationError):
        return _invalid(
            exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        )
    # DRF's exceptions carry the contract's codes as their `default_code`; their messages are
    # DRF's own (translated by DRF), or the text of a Django Http404/PermissionDenied.
    code = type(exc).default_code
    if code not in CATALOGUE:
        code = _STATUS_CODES.get(exc.status_code, "bad_request")
    response = Response(error_body(code, str(exc.detail)), status=exc.status_code)
    if isinstance(exc, exceptions.Throttled):
        set_retry_after(response, getattr(exc, "wait", None))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    return response
