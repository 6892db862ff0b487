"""Client for the Huawei Cloud VAS task API (and its successor VIAS). Knows nothing of Django."""

from .auth import AkSkAuth, IamPasswordAuth, StaticTokenAuth, canonical_request, sign
from .client import MAX_BODY_BYTES, CheckResult, Fetched, TaskPage, VasClient
from .endpoints import (
    REGIONS,
    default_iam_endpoint,
    default_vas_endpoint,
    default_vias_endpoint,
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
from .vias import VIAS_STATES, ViasClient, ViasPage, ViasTaskView

#: The reserved service key of VIAS tasks: ``TrackedTask(service="vias")``, cache keys, snapshots.
#: Never a VAS service name (VAS service names are refused when they equal it).
VIAS_SERVICE = "vias"

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
    "VIAS_SERVICE",
    "VIAS_STATES",
    "VasClient",
    "VasError",
    "ViasClient",
    "ViasPage",
    "ViasTaskView",
    "canonical_request",
    "default_iam_endpoint",
    "default_vas_endpoint",
    "default_vias_endpoint",
    "guarded_session",
    "is_loopback_host",
    "redact_task",
    "sign",
    "validate_endpoint",
]
