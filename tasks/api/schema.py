"""OpenAPI pieces shared by the views: the token scheme, error responses with examples, and the
task answer's example."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from tasks.api.serializers import ErrorSerializer


class PortalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tasks.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token <key>`. Get a key with `POST /api/v1/auth/token/` (HTTP Basic), on "
                "/account/tokens/, or with `manage.py create_api_token`. Keys are stored hashed, "
                "expire, and can be revoked."
            ),
        }


_UPSTREAM = {
    "status": 404,
    "error_code": "IVA.0404",
    "error_msg": "task not found",
    "request_id": "3b1b3c0e5c7e4f0f9d4a1e2b6c8d9f00",
}

#: code -> (HTTP status, example message, extra members)
ERRORS: dict[str, tuple[int, str, dict]] = {
    "invalid": (
        400,
        "Some fields are invalid; see details.",
        {"details": {"name": ["This field is required."], "colour": ["Unknown field."]}},
    ),
    "parse_error": (400, "JSON parse error - Expecting value: line 1 column 1 (char 0)", {}),
    "invalid_task_id": (
        400,
        "“a/b” is not a valid task id (1–64 letters, digits, '_' or '-').",
        {},
    ),
    "invalid_service": (
        400,
        "“?” is not a valid service name (1–64 letters, digits, '_' or '-').",
        {},
    ),
    "invalid_channel": (
        400,
        "The host 10.0.0.1 is a private, loopback or link-local address; the portal sends there "
        "only when PORTAL_NOTIFY_ALLOWED_HOSTS lists it.",
        {},
    ),
    "invalid_state": (400, "Unknown state “X”. Choose one of: …", {}),
    "upstream_bad_request": (
        400,
        "The VAS upstream rejected the request as invalid.",
        {"upstream": {**_UPSTREAM, "status": 400, "error_code": "IVA.0400"}},
    ),
    "not_authenticated": (401, "Authentication credentials were not provided.", {}),
    "authentication_failed": (401, "Invalid token.", {}),
    "permission_denied": (403, "Only the project's admins may do this.", {}),
    "token_limit_reached": (403, "You already have 100 API tokens; revoke one first.", {}),
    "not_found": (404, "No such project.", {}),
    "task_not_found": (
        404,
        "The VAS upstream has no such task. Check the task id and the service name.",
        {"upstream": _UPSTREAM},
    ),
    "method_not_allowed": (405, 'Method "PUT" not allowed.', {}),
    "credentials_unavailable": (
        409,
        "The stored credentials of project “Lobby” cannot be decrypted with the configured keys.",
        {},
    ),
    "request_too_large": (413, "The request body is larger than 256 KiB.", {}),
    "unsupported_media_type": (415, 'Unsupported media type "text/plain" in request.', {}),
    "throttled": (429, "Request was throttled. Expected available in 12 seconds.", {}),
    "locked_out": (429, "Too many failed logins: locked for 15 minutes.", {}),
    "upstream_auth_failed": (
        502,
        "The VAS upstream refused the project's credentials.",
        {"upstream": {**_UPSTREAM, "status": 401, "error_code": "APIGW.0301"}},
    ),
    "upstream_forbidden": (
        502,
        "The credentials are valid but not allowed to do this.",
        {"upstream": {**_UPSTREAM, "status": 403, "error_code": "APIGW.0302"}},
    ),
    "upstream_invalid_response": (
        502,
        "The VAS upstream sent an answer the portal cannot use.",
        {},
    ),
    "upstream_unavailable": (
        503,
        "The VAS upstream failed (HTTP 503) even after retrying. Try again in a moment.",
        {"upstream": {**_UPSTREAM, "status": 503, "error_code": None, "error_msg": None}},
    ),
    "upstream_timeout": (504, "The VAS upstream did not answer in time.", {}),
}

#: `Retry-After` (seconds) on 429 and 503 answers, when known.
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait before retrying, when known.",
)

#: What every authenticated endpoint can answer.
COMMON = ("not_authenticated", "authentication_failed", "throttled")
PROJECT = (*COMMON, "not_found")
ADMIN = (*PROJECT, "permission_denied")
WRITE = ("invalid", "parse_error", "request_too_large", "unsupported_media_type")
UPSTREAM = (
    "invalid_task_id",
    "invalid_service",
    "credentials_unavailable",
    "upstream_bad_request",
    "task_not_found",
    "upstream_auth_failed",
    "upstream_forbidden",
    "upstream_invalid_response",
    "upstream_unavailable",
    "upstream_timeout",
)


def error_responses(*codes: str) -> dict[int, OpenApiResponse]:
    """{status: response} documenting each error code with an example."""
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(ERRORS[code][0], []).append(code)
    responses = {}
    for status, status_codes in sorted(by_status.items()):
        responses[status] = OpenApiResponse(
            ErrorSerializer,
            description=", ".join(f"`{c}`" for c in status_codes),
            examples=[
                OpenApiExample(
                    f"{c} ({status})",
                    value={"error": {"code": c, "message": ERRORS[c][1], **ERRORS[c][2]}},
                    status_codes=[str(status)],
                    response_only=True,
                )
                for c in status_codes
            ],
        )
    return responses


TASK_EXAMPLE = OpenApiExample(
    "A task",
    response_only=True,
    status_codes=["200"],
    value={
        "task": {
            "id": "8d7c029b01c64abf9630f40b7dbfb067",
            "name": "lobby-face",
            "state": "RUNNING",
            "service_name": "c-face-edge",
            "service_version": "1.0",
            "created_at": "2024-04-01T08:00:00Z",
            "updated_at": "2024-04-01T08:05:00Z",
            "input": {"type": "edgecamera", "data": {"id": "cam-1"}},
            "output": {
                "webhook": {"url": "https://example.com/hook", "headers": {"token": "******"}}
            },
            "service_config": {
                "common": {
                    "target_roi": (
                        '{"polygons":[{"data":[[100,100],[1800,100],[1800,1000],[100,1000]]}]}'
                    ),
                    "detection_min_size": 120,
                    "detection_max_size": 800,
                }
            },
        },
        "roi": {
            "frame": {"width": 1920, "height": 1080, "assumed": True},
            "shapes": [
                {"kind": "polygon", "points": [[100, 100], [1800, 100], [1800, 1000], [100, 1000]]}
            ],
            "whole_frame": False,
            "detection": {"min_size": 120, "max_size": 800},
            "problems": [],
        },
        "meta": {
            "source": "upstream",
            "fetched_at": "2026-01-01T00:00:00Z",
            "age_seconds": 0,
            "snapshot_id": 1,
            "upstream_request_id": "3b1b3c0e5c7e4f0f9d4a1e2b6c8d9f00",
            "error": None,
        },
    },
)

STALE_EXAMPLE = OpenApiExample(
    "A stale copy (upstream failed)",
    response_only=True,
    status_codes=["200"],
    value={
        "task": {"id": "8d7c029b01c64abf9630f40b7dbfb067", "state": "RUNNING", "...": "…"},
        "roi": {
            "frame": {"width": 1920, "height": 1080, "assumed": True},
            "shapes": [],
            "whole_frame": True,
            "detection": {},
            "problems": [],
        },
        "meta": {
            "source": "stale",
            "fetched_at": "2026-01-01T00:00:00Z",
            "age_seconds": 412,
            "snapshot_id": 3,
            "upstream_request_id": "3b1b3c0e5c7e4f0f9d4a1e2b6c8d9f00",
            "error": {
                "code": "upstream_timeout",
                "message": "The VAS upstream did not answer in time. Try again in a moment.",
            },
        },
    },
)
