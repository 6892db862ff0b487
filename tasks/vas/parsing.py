"""Task documents: secret redaction, a tolerant typed view, and reference tables.

The document's shape is in docs/VAS-API.md §3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

REDACTED = "******"


def gettext_noop(message: str) -> str:
    """Marks a text for the translation catalogue (makemessages extracts this name) without
    translating it: the Django layer translates at render time, so this package stays Django-free.
    """
    return message


#: state -> (family, meaning, 中文名). Families drive badge colours.
STATES: dict[str, tuple[str, str, str]] = {
    "PENDING": ("transitional", gettext_noop("Queued: waiting for computing resources."), "等待中"),
    "RECOVERING": ("transitional", gettext_noop("Being recovered."), "恢复中"),
    "STARTING": ("transitional", gettext_noop("Starting."), "启动中"),
    "UPGRADING": ("transitional", gettext_noop("Automatic upgrade in progress."), "升级中"),
    "CREATE_FAILED": ("failed", gettext_noop("Creation failed."), "创建失败"),
    "START_FAILED": ("failed", gettext_noop("Start failed."), "启动失败"),
    "RUNNING": ("running", gettext_noop("Running."), "运行中"),
    "STOPPING": ("transitional", gettext_noop("Stopping."), "停止中"),
    "STOPPED": ("stopped", gettext_noop("Stopped."), "已停止"),
    "ABNORMAL": ("failed", gettext_noop("Abnormal: see the status and error."), "异常"),
    "SUCCEEDED": (
        "stopped",
        gettext_noop("Finished: the finite input has been processed."),
        "运行成功",
    ),
    "FAILED": ("failed", gettext_noop("Failed."), "运行失败"),
    "DELETING": ("transitional", gettext_noop("Being deleted."), "删除中"),
    "FREEZING": ("frozen", gettext_noop("Account in arrears: being frozen."), "冻结中"),
    "FROZEN": (
        "frozen",
        gettext_noop(
            "Frozen for arrears; restarts if the account is topped up within the retention period."
        ),
        "已冻结",
    ),
}

#: Known ``service_config.common`` keys -> (label, unit, explanation). docs/VAS-API.md §3.5.
SERVICE_CONFIG_KEYS: dict[str, tuple[str, str, str]] = {
    "detection_max_size": (
        gettext_noop("Largest detected target"),
        "px",
        gettext_noop("Targets larger than this are ignored."),
    ),
    "detection_min_size": (
        gettext_noop("Smallest detected target"),
        "px",
        gettext_noop("Targets smaller than this are ignored (faces should be at least 90×90)."),
    ),
    "origin_image_send_sw": (
        gettext_noop("Send original frame"),
        "0/1",
        gettext_noop("1 sends the whole frame too; required for the OriginImage data category."),
    ),
    "face_first_send_threshold": (
        gettext_noop("First send delay"),
        "s",
        gettext_noop("Time from detection to the first send of a face, 0–360 (default 0)."),
    ),
    "face_must_send_sw": (
        gettext_noop("Always send faces"),
        "0/1",
        gettext_noop("Force sending faces (semantics unconfirmed)."),
    ),
    "face_repeat_send_sw": (
        gettext_noop("Resend same person"),
        "0/1",
        gettext_noop("1 resends faces of a person still in view."),
    ),
    "face_repeat_send_mode": (
        gettext_noop("Resend mode"),
        "",
        gettext_noop(
            "PERIOD: best face per interval; QUALITY_STEP: when quality improves by the step."
        ),
    ),
    "face_repeat_send_step": (
        gettext_noop("Resend quality step"),
        "×",
        gettext_noop(
            "QUALITY_STEP mode: resend when quality exceeds this multiple of the last "
            "(default 1.2)."
        ),
    ),
    "face_repeat_send_interval": (
        gettext_noop("Resend interval"),
        "s",
        gettext_noop("PERIOD mode: seconds between resends of the best face (default 1)."),
    ),
    "image_compression_ratio": (
        gettext_noop("Image quality"),
        "%",
        gettext_noop("JPEG quality of sent images (max 100)."),
    ),
    "frame_skip_number": (
        gettext_noop("Frames skipped"),
        "frames",
        gettext_noop("Frames skipped between analyses (cloud)."),
    ),
    "target_roi": (
        gettext_noop("Region of interest"),
        "",
        gettext_noop("Polygons and lines the analysis is limited to."),
    ),
    "license_plate": (
        gettext_noop("Local licence plate"),
        "",
        gettext_noop("Local province and city used to read licence plates."),
    ),
    "output_image_sw": (
        gettext_noop("Send images"),
        "0/1",
        gettext_noop("1 attaches images to results."),
    ),
    "render_roi_sw": (
        gettext_noop("Draw ROI on images"),
        "0/1",
        gettext_noop("1 draws the ROI on result images."),
    ),
    "render_result_sw": (
        gettext_noop("Draw results on images"),
        "0/1",
        gettext_noop("1 draws detections on result images."),
    ),
    "illegal_park_detection_sw": (
        gettext_noop("Illegal parking detection"),
        "0/1",
        gettext_noop("1 turns it on."),
    ),
    "illegal_park_alert_threshold": (
        gettext_noop("Illegal parking alert after"),
        "s",
        gettext_noop("Seconds a vehicle stays in a no-parking zone before an alert."),
    ),
    "intrusion_detection_sw": (
        gettext_noop("Intrusion detection"),
        "0/1",
        gettext_noop("1 turns it on."),
    ),
    "stacking_occupation_sw": (
        gettext_noop("Stacked goods detection"),
        "0/1",
        gettext_noop("1 turns it on."),
    ),
    "vehicle_occupation_sw": (
        gettext_noop("Vehicle occupation detection"),
        "0/1",
        gettext_noop("1 turns it on."),
    ),
    "stacking_residence_time": (
        gettext_noop("Stacked goods alert after"),
        "s",
        gettext_noop("Seconds goods block the exit before an alert."),
    ),
    "vehicle_residence_time": (
        gettext_noop("Vehicle alert after"),
        "s",
        gettext_noop("Seconds a vehicle blocks the exit before an alert."),
    ),
    "person_detection_sw": (
        gettext_noop("Person detection"),
        "0/1",
        gettext_noop("0 turns it off."),
    ),
    "car_detection_sw": (gettext_noop("Car detection"), "0/1", gettext_noop("0 turns it off.")),
    "video_sampling_interval": (
        gettext_noop("Sampling interval"),
        "frames",
        gettext_noop("Analyse one frame in this many."),
    ),
}

#: Service names seen in documentation (docs/VAS-API.md §1).
KNOWN_SERVICES: list[str] = [
    "c-face-edge",
    "c-face-detection",
    "c-vehicle-detection-edge",
    "c-vehicle-detection-cloud",
    "c-non-motor-detection-edge",
    "c-fire-exit-occupation-cloud",
]


# ---- redaction (contract: "Secrets"; the one place that masks a document) ------------------------

#: A name is secret-looking when one of its words (split at "-", "_", ".", spaces and camelCase)
#: is one of these, or when it contains one of SECRET_PARTS anywhere ("x-auth-token", "apiKey").
SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "authentication",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "key",
        "pass",
        "passphrase",
        "passwd",
        "password",
        "pin",
        "pwd",
        "secret",
        "session",
        "sessionid",
        "sig",
        "sign",
        "signature",
        "ak",
        "sk",
        "token",
        "otp",
    }
)
SECRET_PARTS = (
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "cookie",
    "signature",
    "authorization",
    "sessionid",
)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
#: Names whose sibling "value" is the secret in a list of {"name": …, "value": …} objects.
_NAME_KEYS = ("name", "key", "header", "field")
#: Longest string inspected as a URL (a longer one is data, not an address).
_MAX_URL = 8192


def is_secret_name(name: Any) -> bool:
    """Whether a key, header or query parameter name looks like it carries a secret."""
    if not isinstance(name, str) or not name:
        return False
    squashed = re.sub(r"[^a-z0-9]", "", name.lower())
    if any(part in squashed for part in SECRET_PARTS):
        return True
    return any(word.lower() in SECRET_WORDS for word in _WORDS.findall(name))


def redact_url(value: str) -> str:
    """`value` with a userinfo password (`rtsp://user:pass@host`) and secret-looking query
    parameters (`?token=…`) masked; anything that is not a URL comes back as it was."""
    if "://" not in value or len(value) > _MAX_URL:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    netloc = parts.netloc
    if password is not None:
        userinfo, _at, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = []
        for pair in query.split("&"):
            name, equals, _raw = pair.partition("=")
            secret = equals and is_secret_name(unquote_plus(name))
            pairs.append(f"{name}={REDACTED}" if secret else pair)
        query = "&".join(pairs)
    if netloc == parts.netloc and query == parts.query:
        return value
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _masked(value: Any) -> Any:
    # null, "" and booleans say only whether something is set: kept, so the page can say so.
    if value is None or value == "" or isinstance(value, bool):
        return value
    return REDACTED


def _clean_text(value: str) -> str:
    # PostgreSQL cannot store a NUL, not even inside JSON: shown as U+FFFD instead.
    value = value.replace("\x00", "\ufffd") if "\x00" in value else value
    return redact_url(value)


def redact_document(doc: Any) -> Any:
    """A copy of any JSON document with every secret masked as ``"******"``, wherever it is:

    - the value of any key with a secret-looking name (`password`, `X-Auth-Token`, `passwd`,
      `credential`, `apiKey`, … see is_secret_name), at any depth: webhook headers given as a
      mapping, `input.vcn.password`, VIAS's `input.vcn.password`, unknown fields alike;
    - headers given as a list of ``[name, value]`` pairs or of ``{"name", "value"}`` objects;
    - in any URL, a userinfo password and secret-looking query parameters.

    NUL characters in keys and strings become U+FFFD. The input is not modified. Callers: the
    VAS client (before anything is stored, cached or shown), the VIAS client, notifications.
    """
    if isinstance(doc, dict):
        out: dict[Any, Any] = {}
        for key, value in doc.items():
            clean_key = _clean_text(key) if isinstance(key, str) else key
            out[clean_key] = _masked(value) if is_secret_name(key) else redact_document(value)
        named = next((out[k] for k in _NAME_KEYS if isinstance(out.get(k), str)), None)
        if named is not None and "value" in out and is_secret_name(named):
            out["value"] = _masked(out["value"])
        return out
    if isinstance(doc, list):
        if len(doc) == 2 and isinstance(doc[0], str) and is_secret_name(doc[0]):
            return [_clean_text(doc[0]), _masked(doc[1])]  # a [name, value] header pair
        return [redact_document(item) for item in doc]
    if isinstance(doc, str):
        return _clean_text(doc)
    return doc


def redact_task(payload: dict[str, Any]) -> dict[str, Any]:
    """A task document with its secrets masked: redact_document (kept as the client's name)."""
    redacted: dict[str, Any] = redact_document(payload)
    return redacted


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class TaskView:
    """A typed, tolerant view of a task document for display. Missing fields are None/empty."""

    id: str | None = None
    name: str | None = None
    state: str | None = None
    status: str | None = None
    error: dict[str, str | None] | None = None
    service_name: str | None = None
    service_version: str | None = None
    service_title: dict[str, str] = field(default_factory=dict)
    creator: str | None = None
    project_id: str | None = None
    description: str | None = None
    edge_pool_id: str | None = None
    resource_order_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    input_type: str | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    input_vcn: dict[str, Any] | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_config_common: dict[str, Any] = field(default_factory=dict)
    timing_status: str | None = None
    timing: dict[str, Any] | None = None
    hosting_result: dict[str, Any] | None = None

    @property
    def state_family(self) -> str:
        """running / transitional / stopped / failed / frozen, or "unknown"."""
        return STATES.get(self.state or "", ("unknown", "", ""))[0]

    @property
    def state_meaning(self) -> str:
        return STATES.get(self.state or "", ("", "Unknown state.", ""))[1]

    @property
    def state_zh(self) -> str:
        return STATES.get(self.state or "", ("", "", ""))[2]

    @property
    def target_roi(self) -> Any:
        return self.service_config_common.get("target_roi")

    @classmethod
    def from_payload(cls, payload: Any) -> TaskView:
        """Build a view from an upstream document; never raises, whatever the shape."""
        if not isinstance(payload, dict):
            return cls()
        error = payload.get("error")
        err: dict[str, str | None] | None = None
        if isinstance(error, dict):
            err = {"code": _str(error.get("code")), "message": _str(error.get("message"))}
        elif isinstance(error, str) and error:
            err = {"code": None, "message": error}
        title = {
            str(k): v for k, v in _dict(payload.get("service_title")).items() if isinstance(v, str)
        }
        inp = _dict(payload.get("input"))
        data = inp.get("data")
        inputs = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
        outputs = {
            str(k): v for k, v in _dict(payload.get("output")).items() if isinstance(v, dict)
        }
        common = _dict(_dict(payload.get("service_config")).get("common"))
        timing = payload.get("timing")
        hosting = payload.get("hosting_result")
        vcn = inp.get("vcn")
        return cls(
            id=_str(payload.get("id")),
            name=_str(payload.get("name")),
            state=_str(payload.get("state")),
            status=_str(payload.get("status")),
            error=err,
            service_name=_str(payload.get("service_name")),
            service_version=_str(payload.get("service_version")),
            service_title=title,
            creator=_str(payload.get("creator")),
            project_id=_str(payload.get("project_id")),
            description=_str(payload.get("description")),
            edge_pool_id=_str(payload.get("edge_pool_id")),
            resource_order_id=_str(payload.get("resource_order_id")),
            created_at=_str(payload.get("created_at")),
            updated_at=_str(payload.get("updated_at")),
            input_type=_str(inp.get("type")),
            inputs=inputs,
            input_vcn=vcn if isinstance(vcn, dict) else None,
            outputs=outputs,
            service_config_common=dict(common),
            timing_status=_str(payload.get("timing_status")),
            timing=timing if isinstance(timing, dict) else None,
            hosting_result=hosting if isinstance(hosting, dict) else None,
        )
