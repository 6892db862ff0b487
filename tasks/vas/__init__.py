"""Client for the Huawei Cloud VAS task API. Knows nothing of Django."""

from .auth import AkSkAuth, IamPasswordAuth, StaticTokenAuth, canonical_request, sign
from .client import MAX_BODY_BYTES, CheckResult, Fetched, TaskPage, VasClient
from .endpoints import (
    REGIONS,
    default_iam_endpoint,
    default_vas_endpoint,
    is_loopback_host,
    validate_endpoint,
)
from .errors import (
    EndpointNotAllowed,
    TaskNotFound,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamForbidden,
    UpstreamInvalidResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    VasError,
)
from .parsing import KNOWN_SERVICES, SERVICE_CONFIG_KEYS, STATES, TaskView, redact_task
from .transport import AddressPolicy, Answer, Transport, guarded_session

__all__ = [
    "KNOWN_SERVICES",
    "MAX_BODY_BYTES",
    "REGIONS",
    "SERVICE_CONFIG_KEYS",
    "STATES",
    "AddressPolicy",
    "AkSkAuth",
    "Answer",
    "CheckResult",
    "EndpointNotAllowed",
    "Fetched",
    "IamPasswordAuth",
    "StaticTokenAuth",
    "TaskNotFound",
    "TaskPage",
    "TaskView",
    "Transport",
    "UpstreamAuthFailed",
    "UpstreamBadRequest",
    "UpstreamForbidden",
    "UpstreamInvalidResponse",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "VasClient",
    "VasError",
    "canonical_request",
    "default_iam_endpoint",
    "default_vas_endpoint",
    "guarded_session",
    "is_loopback_host",
    "redact_task",
    "sign",
    "validate_endpoint",
]
