"""One exception handler: every API error leaves as {"error": {"code", "message", ...}}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response

from tasks.errors import PortalError
from tasks.i18n import error_message
from tasks.vas.errors import VasError

# DRF's own exceptions → the contract's codes.
_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.Throttled, "throttled"),
    (exceptions.ValidationError, "invalid"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
]

# Messages follow the request's language (Accept-Language, or the language cookie); codes never.
INVALID_MESSAGE = _("Some fields are invalid; see details.")

_STATUS_CODES = {
    400: ("bad_request", _("The request is malformed.")),
    413: ("request_too_large", _("The request body is too large.")),
    401: ("not_authenticated", _("Authentication credentials were not provided.")),
    403: ("permission_denied", _("You do not have permission to perform this action.")),
    404: ("not_found", _("Not found.")),
    405: ("method_not_allowed", _("Method not allowed.")),
    500: ("server_error", _("An unexpected error occurred; it has been logged.")),
}


def error_body(code: str, message: str, **extra: object) -> dict:
    return {"error": {"code": code, "message": str(message), **extra}}


def error_response_for_status(status: int) -> JsonResponse:
    """For Django-level errors under /api/ (an unknown route, a crash) outside DRF's views."""
    code, message = _STATUS_CODES.get(status, ("error", _("Error.")))
    return JsonResponse(error_body(code, message), status=status)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, VasError):
        extra = {"upstream": exc.upstream_dict()} if exc.upstream_dict() else {}
        response = Response(
            error_body(exc.code, error_message(exc), **extra), status=exc.http_status
        )
        if exc.retry_after:
            response["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response
    if isinstance(exc, PortalError):
        extra = getattr(exc, "extra", None) or {}  # e.g. invalid_roi's problems
        response = Response(
            error_body(exc.code, error_message(exc), **extra), status=exc.http_status
        )
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            response["Retry-After"] = str(max(1, round(retry_after)))
        return response
    if isinstance(exc, DjangoValidationError):
        # The services' errors, by field, exactly as the pages show them.
        details = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(error_body("invalid", INVALID_MESSAGE, details=details), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(*_STATUS_CODES[413]), status=413)
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body(*_STATUS_CODES[400]), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django's 500 handler answers with the JSON 500 shape
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), exc.default_code)
    extra: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        message = INVALID_MESSAGE
        extra["details"] = (
            exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        )
    else:
        message = str(exc.detail)
    response = Response(error_body(code, message, **extra), status=exc.status_code)
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait) + 1)
    if getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = exc.auth_header
    return response
