"""OpenAPI pieces shared by the views: the token scheme, error responses with examples, and the
task answer's example."""

from django.utils import translation
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from tasks.api.serializers import ErrorSerializer
from tasks.errors import CATALOGUE, Message


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


def error_example(code: str) -> dict:
    """An error body of `code` as the API answers it, from the catalogue's example (English)."""
    entry = CATALOGUE[code]
    example = dict(entry.example)
    with translation.override("en"):
        message = Message(code, example.pop("reason", ""), example.pop("params", {})).render()
    return {"error": {"code": code, "message": message, **example}}


def error_table() -> str:
    """The API's error codes as a Markdown table, made from the catalogue."""
    rows = ["| code | HTTP | meaning | what to do |", "| --- | --- | --- | --- |"]
    with translation.override("en"):
        for entry in sorted(CATALOGUE.values(), key=lambda e: (e.status, e.code)):
            statuses = " ".join(f"({s})" for s in sorted(set(entry.statuses.values())))
            rows.append(
                f"| `{entry.code}` | {entry.status}{' ' + statuses if statuses else ''} | "
                f"{gettext(entry.title)} | {gettext(entry.next_step)} |"
            )
    return "\n".join(rows)


def add_error_table(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: the error table goes in the document's description,
    so the OpenAPI document lists every code the API can answer with, from the one catalogue."""
    info = result.setdefault("info", {})
    errors = (
        'Every error is `{"error": {"code", "message", …}}`; `message` follows '
        "Accept-Language, `code` never changes.\n\n" + error_table()
    )
    info["description"] = f"{info.get('description', '')}\n\n## Errors\n\n{errors}".strip()
    return result


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
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    responses = {}
    for status, status_codes in sorted(by_status.items()):
        responses[status] = OpenApiResponse(
            ErrorSerializer,
            description=", ".join(f"`{c}`" for c in status_codes),
            examples=[
                OpenApiExample(
                    f"{c} ({status})",
                    value=error_example(c),
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
            "error": error_example("upstream_timeout")["error"],
        },
    },
)
