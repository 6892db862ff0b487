"""An in-process simulator of the VAS task API and IAM password tokens, for tests and demos.

VIAS (the successor service) is served beside VAS on the same port, behind the same signature
check and faults: ``/v2/{project_id}/tasks…`` (see ``vassim/vias.py``, seeds in ``vassim/seed/``).

It checks AK/SK signatures exactly as the API gateway does (rebuilding the canonical request from
what it received), issues and checks IAM tokens, serves seeded tasks in every state, lets tasks
move through states, injects faults and counts requests. Plain WSGI on the standard library.

Control endpoints (no auth; bind the simulator to loopback only):
    GET    /_sim/counts             {"GET /v2/...": n, ...}
    GET    /_sim/operations         {"ListTasksDetails": n, "ShowTask": n, ...} (by operation)
    POST   /_sim/state              {"task_id": "...", "state": "ABNORMAL", "status", "error"}
    POST   /_sim/list               {"max_limit": 100 | null, "hidden": ["<task id>", ...]}
    DELETE /_sim/counts             reset counts
    POST   /_sim/faults             {"<task id>"|"list"|"vias-list"|"*": {"mode": ...,
                                      "seconds": .., "retry_after": .., "times": n}}
    DELETE /_sim/faults             clear faults
    POST   /_sim/advance            {"task_id": "..."} (or {} for every task with a lifecycle)
    POST   /_sim/clock              {"seconds": n}: the simulator's clock moves on n seconds
    GET    /_sim/updates            the UpdateTask bodies received, oldest first
    POST   /_sim/reset              back to the seeded state
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import hmac
import io
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tasks.vas.auth import DATE_FORMAT, canonical_request, signature, string_to_sign
from tasks.vas.parsing import STATES
from vassim import vias

DEFAULT_PROJECT_ID = "6204a5bd270343b5885144cf9c8c158d"
DEFAULT_AK = "SIMULATORAK000000001"
DEFAULT_SK = "SIMULATORSKsecretkeyforlocaldemo00000001"
DEFAULT_IAM_DOMAIN = "sim-domain"
DEFAULT_IAM_USER = "sim-user"
DEFAULT_IAM_PASSWORD = "sim-password-1"  # noqa: S105 - documented demo credential
DEFAULT_PORT = 8900
CLOCK_SKEW_LIMIT = 15 * 60

#: The seed tasks are data, not code (vias.py reads its own file beside this one).
VAS_SEED_FILE = Path(__file__).with_name("seed") / "vas_tasks.json"

SEED_TASK_ID = "8d7c029b01c64abf9630f40b7dbfb067"
TASK_A_ID = "a066974ae7334649a37257242c5fa4c3"
TASK_B_ID = "8656efdafebf440bb7008f174db6c567"
TASK_C_ID = "task7qe4sbmo"

FAULT_MODES = frozenset(
    {
        "delay",
        "500",
        "502",
        "503",
        "504",
        "429",
        "401",
        "403",
        "malformed_json",
        "html",
        "nan",
        "array",
        "not_task",
        "oversized",
        "oversized_stream",
        "gzip_bomb",
        "huge_error",
        "trickle",
        "drop",
        "reset",
        "redirect",
    }
)

#: The body of the "huge_error" fault: a 500 whose error text never ends (sent, never built).
HUGE_ERROR_BYTES = 200 * 1024 * 1024

_TASK_ID = re.compile(r"^(?:[0-9a-f]{32}|task\w{8})$")
_SERVICE = re.compile(r"^[a-z][a-z-]{0,98}[a-z]$")
_ORDER = re.compile(r"^(name|created_at|updated_at)(:(ASC|DESC))?$")
_AUTH = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$"
)
_VAS_PATH = re.compile(
    r"^/v2/(?P<project>[^/]+)/services/(?P<service>[^/]+)/tasks"
    r"(?:/(?P<task>[^/]+)(?:/(?P<action>start|stop))?)?/?$"
)


#: States StartTask / StopTask accept (the rest answer 400 IVA.0004, as the upstream refuses an
#: impossible transition). Transitions are not documented (VAS-API.md §3.1): these are inferred.
START_FROM = frozenset({"STOPPED", "START_FAILED", "ABNORMAL", "FAILED", "SUCCEEDED"})
STOP_FROM = frozenset({"RUNNING", "STARTING", "PENDING", "ABNORMAL", "RECOVERING"})
#: Seconds a started or stopped task spends in STARTING / STOPPING on the simulator's clock.
TRANSITION_SECONDS = 2.0
#: UpdateTask body (VAS-API.md §2): create's fields minus service_version, edge_pool_id and
#: resource_order_id.
UPDATE_KEYS = frozenset({"name", "description", "timing", "input", "output", "service_config"})
_NAME = re.compile(r"^[\u4E00-\u9FA5a-zA-Z0-9_-]{1,100}$")


def _task_id(name: str) -> str:
    return hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()


def seed_tasks() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(task document, lifecycle options) pairs the simulator starts with (fresh copies), read
    from ``vassim/seed/vas_tasks.json``: the seed page's sample task, one task in every state,
    ROI variants and a few lifecycles."""
    entries = json.loads(VAS_SEED_FILE.read_text(encoding="utf-8"))["tasks"]
    return [(entry["doc"], entry["options"]) for entry in entries]


#: Ids of the seeded variants, by name (handy in tests).
SEEDED_IDS: dict[str, str] = {
    "seed": SEED_TASK_ID,
    "A": TASK_A_ID,
    "B": TASK_B_ID,
    "C": TASK_C_ID,
    **{
        n: _task_id(n)
        for n in (
            "roi-none",
            "roi-lines-only",
            "roi-self-intersecting",
            "roi-malformed",
            "roi-beyond-1080p",
            "roi-negative",
            "roi-empty-string",
            "xss",
            "webhook-secret",
            "lifecycle-fetch",
            "lifecycle-timed",
        )
    },
    **{
        f"state-{s.lower().replace('_', '-')}": _task_id(f"state-{s.lower().replace('_', '-')}")
        for s in STATES
        if s not in ("RUNNING", "STOPPED", "ABNORMAL")
    },
}


@dataclass
class _Task:
    doc: dict[str, Any]
    lifecycle: list[str] = field(default_factory=list)
    step: int = 0
    advance_on_fetch: bool = False
    advance_every: float | None = None
    since: float = 0.0
    delete_after_step: bool = False


@dataclass
class Fault:
    mode: str
    seconds: float = 0.0
    retry_after: str | None = None
    times: int | None = None


_GZIP_BOMB: bytes | None = None
_GZIP_LOCK = threading.Lock()


def gzip_bomb() -> bytes:
    """~40 MiB of zeros, gzip-compressed (about 40 KiB on the wire); built once."""
    global _GZIP_BOMB
    with _GZIP_LOCK:
        if _GZIP_BOMB is None:
            buf = io.BytesIO()
            with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
                block = b"0" * (1024 * 1024)
                for _ in range(40):
                    gz.write(block)
            _GZIP_BOMB = buf.getvalue()
        return _GZIP_BOMB


class Simulator:
    """Holds the simulated state; ``wsgi_app`` serves it."""

    def __init__(
        self,
        *,
        ak: str = DEFAULT_AK,
        sk: str = DEFAULT_SK,
        project_id: str = DEFAULT_PROJECT_ID,
        security_token: str | None = None,
        iam_domain: str = DEFAULT_IAM_DOMAIN,
        iam_user: str = DEFAULT_IAM_USER,
        iam_password: str = DEFAULT_IAM_PASSWORD,
        token_ttl: float = 24 * 3600.0,
        delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        transition_seconds: float = TRANSITION_SECONDS,
    ) -> None:
        self.ak = ak
        self.sk = sk
        self.project_id = project_id
        self.security_token = security_token
        self.iam_domain = iam_domain
        self.iam_user = iam_user
        self.iam_password = iam_password
        self.token_ttl = token_ttl
        self.delay = delay
        self._base_clock = clock
        self._clock_offset = 0.0
        self.transition_seconds = transition_seconds
        self.updates: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self.counts: Counter[str] = Counter()
        #: VAS calls by operation name (ListTasksDetails, ShowTask, StartTask, …).
        self.operations: Counter[str] = Counter()
        #: A list `limit` above this is refused with 400 (an upstream that serves only 100 a page).
        self.max_list_limit: int | None = None
        #: Task ids the list leaves out (ShowTask still serves them).
        self.list_hidden: set[str] = set()
        self.faults: dict[str, Fault] = {}
        self.tokens: dict[str, float] = {}
        self.tasks: dict[tuple[str, str], _Task] = {}
        self.reset()

    # ------------------------------------------------------------------ Python API for tests

    def clock(self) -> float:
        """The simulator's time: the given clock plus whatever ``pass_time`` added."""
        return self._base_clock() + self._clock_offset

    def pass_time(self, seconds: float) -> None:
        """Moves the simulator's clock on (tasks in STARTING/STOPPING finish their transition)."""
        with self._lock:
            self._clock_offset += float(seconds)

    def reset(self) -> None:
        """Back to the seeded tasks; clears faults, counts, tokens, updates and the clock."""
        with self._lock:
            self._clock_offset = 0.0
            self.updates.clear()
            self.counts.clear()
            self.operations.clear()
            self.max_list_limit = None
            self.list_hidden = set()
            self.faults.clear()
            self.tokens.clear()
            self.tasks.clear()
            for doc, options in seed_tasks():
                self.add_task(doc, **options)
            for entry in vias.seed_tasks():
                self.add_task(entry.pop("doc"), service=vias.SERVICE, **entry)

    def add_task(
        self,
        doc: dict[str, Any],
        *,
        service: str | None = None,
        lifecycle: list[str] | None = None,
        advance_on_fetch: bool = False,
        advance_every: float | None = None,
    ) -> None:
        """Add or replace a task (``service``: default the doc's service_name, else c-face-edge)."""
        service = service or doc.get("service_name") or "c-face-edge"
        task = _Task(
            doc=copy.deepcopy(doc),
            lifecycle=list(lifecycle or []),
            advance_on_fetch=advance_on_fetch,
            advance_every=advance_every,
            since=self.clock(),
        )
        if task.lifecycle:
            task.doc["state"] = task.lifecycle[0]
        with self._lock:
            self.tasks[(service, doc["id"])] = task

    def set_fault(
        self,
        key: str,
        mode: str,
        *,
        seconds: float = 0.0,
        retry_after: str | float | None = None,
        times: int | None = None,
    ) -> None:
        """Inject a fault for a task id, ``"list"`` (task lists), ``"*"`` (every VAS call) or
        ``"iam"`` (the IAM token request)."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self.faults[key] = Fault(
                mode=mode,
                seconds=float(seconds),
                retry_after=None if retry_after is None else str(retry_after),
                times=times,
            )

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def count(self, path: str | None = None, method: str | None = None) -> int:
        """Requests seen for a path (substring match on "METHOD /path"); all when None."""
        with self._lock:
            return sum(
                n
                for key, n in self.counts.items()
                if (path is None or path in key) and (method is None or key.startswith(method))
            )

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.operations.clear()

    def set_state(
        self,
        task_id: str,
        state: str,
        *,
        service: str | None = None,
        status: str | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        """Flip a task to ``state`` now (``status``/``error`` set, or removed when None)."""
        with self._lock:
            for (svc, tid), task in self.tasks.items():
                if tid == task_id and (service is None or svc == service):
                    task.lifecycle, task.step = [], 0
                    task.advance_on_fetch, task.advance_every = False, None
                    task.doc["state"] = state
                    task.doc["updated_at"] = _iso(self.clock())
                    for key, value in (("status", status), ("error", error)):
                        if value is None:
                            task.doc.pop(key, None)
                        else:
                            task.doc[key] = value

    def remove_task(self, task_id: str) -> None:
        with self._lock:
            for key in [k for k in self.tasks if k[1] == task_id]:
                del self.tasks[key]

    def advance(self, task_id: str | None = None) -> None:
        """Move a task (or every task with a lifecycle) one step along its lifecycle."""
        with self._lock:
            for key, task in list(self.tasks.items()):
                if task_id is None or key[1] == task_id:
                    self._step(key, task)

    def state_of(self, service: str, task_id: str) -> str | None:
        with self._lock:
            task = self.tasks.get((service, task_id))
            if task is None:
                return None
            self._tick(task)
            return str(task.doc.get("state"))

    def issue_token(self) -> str:
        token = "MIIsim" + secrets.token_hex(32)
        with self._lock:
            self.tokens[token] = self.clock() + self.token_ttl
        return token

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # ------------------------------------------------------------------ state machine

    def _step(self, key: tuple[str, str], task: _Task) -> None:
        if task.step + 1 < len(task.lifecycle):
            task.step += 1
            task.since = self.clock()
            task.doc["state"] = task.lifecycle[task.step]
            task.doc["updated_at"] = _iso(self.clock())
        elif task.delete_after_step:
            self.tasks.pop(key, None)

    def _tick(self, task: _Task) -> None:
        if task.advance_every and task.lifecycle:
            while (
                task.step + 1 < len(task.lifecycle)
                and self.clock() - task.since >= task.advance_every
            ):
                task.step += 1
                task.since += task.advance_every
                task.doc["state"] = task.lifecycle[task.step]
                task.doc["updated_at"] = _iso(task.since)

    # ------------------------------------------------------------------ WSGI

    def wsgi_app(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/") or "/"
        with self._lock:
            self.counts[f"{method} {path}"] += 1
        if self.delay and not path.startswith("/_sim"):
            time.sleep(self.delay)
        try:
            if path.startswith("/_sim/"):
                return self._control(method, path, environ, start_response)
            if path.rstrip("/") == "/v3/auth/tokens" and method == "POST":
                # Faults for IAM are set on the key "iam" only ("*" means the VAS calls).
                fault = self._take_fault("iam", wildcard=False)
                if fault is not None and fault.mode == "delay":
                    time.sleep(fault.seconds)
                elif fault is not None:
                    return self._fault(fault, environ, start_response)
                return self._iam(environ, start_response)
            vias_match = vias.VIAS_PATH.match(path)
            if vias_match:
                fault = self._take_fault(vias_match.group("task") or vias.LIST_FAULT_KEY)
                if fault is not None:
                    return self._fault(fault, environ, start_response)
                denied = self._authenticate(method, environ)
                if denied is not None:
                    return _json(start_response, 401, denied)
                return vias.handle(self, method, vias_match, environ, start_response)
            match = _VAS_PATH.match(path)
            if not match:
                return _json(start_response, 404, _err("APIGW.0101", "The API does not exist."))
            fault = self._take_fault(match.group("task") or "list")
            if fault is not None:
                return self._fault(fault, environ, start_response)
            denied = self._authenticate(method, environ)
            if denied is not None:
                return _json(start_response, 401, denied)
            return self._vas(method, match, environ, start_response)
        except Exception as exc:  # pragma: no cover - a simulator bug must not kill the server
            return _json(start_response, 500, _err("IVA.0006", f"Internal server error: {exc}"))

    # -- auth

    def _authenticate(self, method: str, environ: dict[str, Any]) -> dict[str, Any] | None:
        token = environ.get("HTTP_X_AUTH_TOKEN")
        if token:
            with self._lock:
                expires = self.tokens.get(token)
            if expires is None or expires <= self.clock():
                return _err("IVA.0001", "The authentication token is abnormal.")
            return None
        header = environ.get("HTTP_AUTHORIZATION", "")
        match = _AUTH.match(header.strip())
        if not match:
            return _err(
                "APIGW.0301", "Incorrect IAM authentication information: decrypt token fail"
            )
        access, signed, given = match.groups()
        if access != self.ak:
            return _err(
                "APIGW.0301", f"Incorrect IAM authentication information: ak {access} not exist"
            )
        sdk_date = environ.get("HTTP_X_SDK_DATE", "")
        try:
            when = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=UTC).timestamp()
        except ValueError:
            return _err(
                "APIGW.0301", "Incorrect IAM authentication information: x-sdk-date invalid"
            )
        if abs(self.clock() - when) > CLOCK_SKEW_LIMIT:
            return _err(
                "APIGW.0301",
                "Incorrect IAM authentication information: the request time is out of range",
            )
        names = signed.split(";")
        if "x-sdk-date" not in names or "host" not in names:
            return _err("APIGW.0301", _SIG_FAIL)
        headers: dict[str, str] = {}
        for name in names:
            value = _environ_header(environ, name)
            if value is None:
                return _err("APIGW.0301", _SIG_FAIL)
            headers[name] = value
        if self.security_token is not None and headers.get("x-security-token") != (
            self.security_token
        ):
            return _err("APIGW.0301", "Incorrect IAM authentication information: token invalid")
        body = _read_body(environ)
        raw_path = environ.get("RAW_URI") or quote(_wsgi_path(environ))
        raw_path = raw_path.split("?", 1)[0]
        url = f"http://{headers['host']}{raw_path}?{environ.get('QUERY_STRING', '')}"
        canonical = canonical_request(method, url, headers, body, names)
        expected = signature(self.sk, string_to_sign(canonical, sdk_date))
        if not hmac.compare_digest(expected, given):
            return _err("APIGW.0301", _SIG_FAIL)
        return None

    # -- IAM

    def _iam(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            body = json.loads(_read_body(environ) or b"{}")
            identity = body["auth"]["identity"]
            user = identity["password"]["user"]
            ok = (
                "password" in identity.get("methods", [])
                and user.get("name") == self.iam_user
                and user.get("password") == self.iam_password
                and (user.get("domain") or {}).get("name") == self.iam_domain
            )
            project = body["auth"].get("scope", {}).get("project", {})
        except (ValueError, KeyError, TypeError, AttributeError):
            return _json(
                start_response,
                400,
                {"error": {"code": 400, "message": "The request body is invalid.", "title": "Bad"}},
            )
        if not ok:
            return _json(
                start_response,
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "The username or password is wrong.",
                        "title": "Unauthorized",
                    }
                },
            )
        if project.get("id") not in (None, self.project_id):
            return _json(
                start_response,
                400,
                {"error": {"code": 400, "message": "The project is invalid.", "title": "Bad"}},
            )
        token = self.issue_token()
        now = self.clock()
        doc = {
            "token": {
                "expires_at": _iso(now + self.token_ttl, millis=True),
                "issued_at": _iso(now, millis=True),
                "methods": ["password"],
                "project": {"id": self.project_id, "name": "cn-north-4"},
                "user": {"name": self.iam_user, "domain": {"name": self.iam_domain}},
                "roles": [{"name": "te_admin"}],
            }
        }
        return _json(start_response, 201, doc, extra=[("X-Subject-Token", token)])

    # -- VAS

    def _vas(
        self,
        method: str,
        match: re.Match[str],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> list[bytes]:
        project, service = match.group("project"), match.group("service")
        task_id, action = match.group("task"), match.group("action")
        if project != self.project_id:
            return _json(start_response, 400, _err("IVA.0002", "Project id is invalid."))
        if not _SERVICE.match(service):
            return _json(
                start_response,
                400,
                _err("IVA.0004", f"The request param is invalid. parameter [service] {service}"),
            )
        operation = _OPERATIONS.get((method, action, task_id is None), f"{method} other")
        with self._lock:
            self.operations[operation] += 1
        if task_id is None:
            if method != "GET":
                return _json(start_response, 405, _err("IVA.0004", "Method not allowed."))
            return self._list(service, environ, start_response)
        if not _TASK_ID.match(task_id):
            return _json(
                start_response,
                400,
                _err(
                    "IVA.0004",
                    f"The request param is invalid. parameter [task_id] does not match "
                    f"^[0-9a-f]{{32}}|task\\w{{8}}$: {task_id}",
                ),
            )
        with self._lock:
            task = self.tasks.get((service, task_id))
            if task is None:
                return _json(
                    start_response,
                    404,
                    _err("IVA.0005", f"The requested resource is NOT found. Task {task_id}."),
                )
            self._tick(task)
            if method == "GET" and action is None:
                doc = copy.deepcopy(task.doc)
                if task.advance_on_fetch:
                    self._step((service, task_id), task)
                return _json(start_response, 200, doc)
            if method == "POST" and action in ("start", "stop"):
                state = str(task.doc.get("state"))
                allowed = START_FROM if action == "start" else STOP_FROM
                if state not in allowed:
                    return _json(
                        start_response,
                        400,
                        _err(
                            "IVA.0004",
                            f"The request param is invalid. Task {task_id} in state [{state}] "
                            f"cannot be {'started' if action == 'start' else 'stopped'}.",
                        ),
                    )
                if action == "start":
                    task.lifecycle = ["STARTING", "RUNNING"]
                else:
                    task.lifecycle = ["STOPPING", "STOPPED"]
                # Over the simulator's clock: the transition ends transition_seconds later.
                task.step, task.since = 0, self.clock()
                task.advance_every = self.transition_seconds
                task.advance_on_fetch = False
                task.doc["state"] = task.lifecycle[0]
                task.doc.pop("error", None)
                task.doc.pop("status", None)
                task.doc["updated_at"] = _iso(self.clock())
                return _empty(start_response, 202)
            if method == "PUT" and action is None:
                return self._update(task, environ, start_response)
            if method == "DELETE" and action is None:
                task.lifecycle, task.step = ["DELETING"], 0
                task.delete_after_step = True
                task.advance_on_fetch = True
                task.doc["state"] = "DELETING"
                return _empty(start_response, 202)
        return _json(start_response, 405, _err("IVA.0004", "Method not allowed."))

    def _update(
        self, task: _Task, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        """UpdateTask: validates the body like the real API, then replaces the fields given."""
        try:
            body = json.loads(_read_body(environ) or b"")
        except ValueError:
            return _json(
                start_response, 400, _err("IVA.0003", "Request body is not a valid json object.")
            )
        problem = _update_problem(body)
        if problem is not None:
            return _json(
                start_response, 400, _err("IVA.0004", f"The request param is invalid. {problem}")
            )
        if task.doc.get("state") == "DELETING":
            return _json(
                start_response,
                400,
                _err("IVA.0004", "The request param is invalid. The task is being deleted."),
            )
        self.updates.append({"task_id": task.doc.get("id"), "body": copy.deepcopy(body)})
        for key, value in body.items():
            task.doc[key] = copy.deepcopy(value)
        task.doc["updated_at"] = _iso(self.clock())
        return _json(start_response, 200, copy.deepcopy(task.doc))

    def _list(
        self, service: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        state = query.get("state")
        if state is not None and state not in STATES:
            return _json(
                start_response,
                400,
                _err(
                    "IVA.0004",
                    f"The request param is invalid. The param [state] should be one of "
                    f"[{', '.join(STATES)}].",
                ),
            )
        try:
            offset = int(query.get("offset", "0"))
            limit = int(query["limit"]) if "limit" in query else None
        except ValueError:
            return _json(start_response, 400, _err("IVA.0004", "The request param is invalid."))
        if self.max_list_limit is not None and limit is not None and limit > self.max_list_limit:
            return _json(
                start_response,
                400,
                _err(
                    "IVA.0004",
                    f"The request param is invalid. limit should be <= {self.max_list_limit}.",
                ),
            )
        if offset < 0 or offset > 100000 or (limit is not None and not 1 <= limit <= 1000):
            return _json(
                start_response,
                400,
                _err("IVA.0004", "The request param is invalid. offset/limit out of range."),
            )
        order = query.get("order", "created_at:DESC")
        order_match = _ORDER.match(order)
        if not order_match:
            return _json(
                start_response, 400, _err("IVA.0004", "The request param is invalid. [order]")
            )
        with self._lock:
            docs = []
            for (svc, tid), task in self.tasks.items():
                if svc != service or tid in self.list_hidden:
                    continue
                self._tick(task)
                docs.append(task.doc)
            if state:
                docs = [d for d in docs if d.get("state") == state]
            if query.get("name_like"):
                docs = [d for d in docs if query["name_like"] in str(d.get("name", ""))]
            if query.get("id_like"):
                docs = [d for d in docs if query["id_like"] in str(d.get("id", ""))]
            field_name = order_match.group(1)
            docs.sort(
                key=lambda d: str(d.get(field_name) or ""), reverse=order_match.group(3) != "ASC"
            )
            page = docs[offset:] if limit is None else docs[offset : offset + limit]
            # Whole documents, as ListTasksDetails answers (ShowTask adds hosting_result); only
            # the page is copied, under the lock.
            page = [
                {k: v for k, v in copy.deepcopy(d).items() if k != "hosting_result"} for d in page
            ]
        return _json(start_response, 200, {"count": len(docs), "tasks": page})

    # -- faults

    def _take_fault(self, key: str, *, wildcard: bool = True) -> Fault | None:
        with self._lock:
            for candidate in (key, "*") if wildcard else (key,):
                fault = self.faults.get(candidate)
                if fault is None:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self.faults[candidate]
                return fault
        return None

    def _fault(
        self, fault: Fault, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        mode = fault.mode
        extra = [("Retry-After", fault.retry_after)] if fault.retry_after is not None else []
        if mode == "delay":
            time.sleep(fault.seconds)
            return self._after_delay(environ, start_response)
        if mode in ("500", "502", "503", "504", "429", "401", "403"):
            status = int(mode)
            code = {
                500: "IVA.0006",
                503: "IVA.0010",
                429: "APIGW.0308",
                401: "IVA.0001",
                403: "IVA.0007",
            }.get(status, "IVA.0006")
            return _json(start_response, status, _err(code, f"Simulated HTTP {status}."), extra)
        if mode == "malformed_json":
            return _raw(start_response, 200, b'{"id": "abc", "state": ', "application/json")
        if mode == "html":
            return _raw(
                start_response,
                200,
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                "text/html",
            )
        if mode == "nan":
            return _raw(start_response, 200, b'{"id": "x", "state": "RUNNING", "v": NaN}')
        if mode == "array":
            return _raw(start_response, 200, b'[{"id": "x", "state": "RUNNING"}]')
        if mode == "not_task":
            return _raw(start_response, 200, b'{"hello": "world"}')
        if mode in ("oversized", "oversized_stream"):
            filler = b"x" * (5 * 1024 * 1024)
            body = b'{"id": "x", "state": "RUNNING", "pad": "' + filler + b'"}'
            if mode == "oversized":
                return _raw(start_response, 200, body)
            start_response("200 OK", _headers("application/json"))
            return _chunks(body, 64 * 1024)
        if mode == "huge_error":
            size = HUGE_ERROR_BYTES
            start_response(
                "500 Internal Server Error",
                _headers("application/json") + [("Content-Length", str(size))],
            )
            return _repeat(b"x" * (64 * 1024), size // (64 * 1024))
        if mode == "gzip_bomb":
            bomb = gzip_bomb()
            start_response(
                "200 OK",
                _headers("application/json")
                + [("Content-Encoding", "gzip"), ("Content-Length", str(len(bomb)))],
            )
            return [bomb]
        if mode == "trickle":
            body = json.dumps({"id": "a" * 32, "state": "RUNNING", "pad": "y" * 200}).encode()
            interval = fault.seconds or 0.2
            start_response(
                "200 OK", _headers("application/json") + [("Content-Length", str(len(body)))]
            )
            return _trickle(body, interval)
        if mode == "drop":
            start_response("200 OK", _headers("application/json") + [("Content-Length", "100000")])
            return _drop(b'{"id": "' + b"a" * 5000)
        if mode == "reset":
            sock = environ.get("sim.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise _Abort()
        if mode == "redirect":
            start_response(
                "302 Found",
                _headers("text/plain") + [("Location", "http://169.254.169.254/latest/meta-data/")],
            )
            return [b"moved"]
        raise ValueError(mode)  # pragma: no cover

    def _after_delay(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/")
        denied = self._authenticate(method, environ)
        if denied is not None:
            return _json(start_response, 401, denied)
        vias_match = vias.VIAS_PATH.match(path)
        if vias_match:
            return vias.handle(self, method, vias_match, environ, start_response)
        match = _VAS_PATH.match(path)
        assert match is not None
        return self._vas(method, match, environ, start_response)

    # -- control

    def _control(
        self, method: str, path: str, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        if path == "/_sim/counts":
            if method == "DELETE":
                self.reset_counts()
                return _empty(start_response, 204)
            with self._lock:
                return _json(start_response, 200, dict(self.counts))
        if path == "/_sim/faults":
            if method == "DELETE":
                self.clear_faults()
                return _empty(start_response, 204)
            if method == "POST":
                try:
                    spec = json.loads(_read_body(environ) or b"{}")
                    for key, value in spec.items():
                        self.set_fault(
                            key,
                            value["mode"],
                            seconds=value.get("seconds", 0.0),
                            retry_after=value.get("retry_after"),
                            times=value.get("times"),
                        )
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    return _json(start_response, 400, {"error": str(exc)})
                return _json(start_response, 200, {"faults": sorted(self.faults)})
            with self._lock:
                return _json(start_response, 200, {k: vars(v) for k, v in self.faults.items()})
        if path == "/_sim/operations":
            with self._lock:
                return _json(start_response, 200, dict(self.operations))
        if path == "/_sim/state" and method == "POST":
            try:
                spec = json.loads(_read_body(environ) or b"{}")
                self.set_state(
                    spec["task_id"],
                    spec["state"],
                    service=spec.get("service"),
                    status=spec.get("status"),
                    error=spec.get("error"),
                )
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                return _json(start_response, 400, {"error": str(exc)})
            return _json(start_response, 200, {"ok": True})
        if path == "/_sim/list" and method == "POST":
            try:
                spec = json.loads(_read_body(environ) or b"{}")
                with self._lock:
                    self.max_list_limit = spec.get("max_limit")
                    self.list_hidden = set(spec.get("hidden") or [])
            except (ValueError, TypeError, AttributeError) as exc:
                return _json(start_response, 400, {"error": str(exc)})
            return _json(start_response, 200, {"ok": True})
        if path == "/_sim/advance" and method == "POST":
            try:
                spec = json.loads(_read_body(environ) or b"{}")
            except ValueError:
                spec = {}
            self.advance(spec.get("task_id") if isinstance(spec, dict) else None)
            return _json(start_response, 200, {"ok": True})
        if path == "/_sim/clock" and method == "POST":
            try:
                spec = json.loads(_read_body(environ) or b"{}")
                self.pass_time(float(spec["seconds"]))
            except (ValueError, KeyError, TypeError):
                return _json(start_response, 400, {"error": 'give {"seconds": n}'})
            return _json(start_response, 200, {"ok": True})
        if path == "/_sim/updates" and method == "GET":
            with self._lock:
                return _json(start_response, 200, list(self.updates))
        if path == "/_sim/reset" and method == "POST":
            self.reset()
            return _json(start_response, 200, {"ok": True})
        return _json(start_response, 404, {"error": "unknown control endpoint"})


#: (method, action, whether it is the list) → the SDK's operation name.
_OPERATIONS: dict[tuple[str, str | None, bool], str] = {
    ("GET", None, True): "ListTasksDetails",
    ("POST", None, True): "CreateTasks",
    ("GET", None, False): "ShowTask",
    ("PUT", None, False): "UpdateTask",
    ("DELETE", None, False): "DeleteTask",
    ("POST", "start", False): "StartTask",
    ("POST", "stop", False): "StopTask",
}


def _update_problem(body: Any) -> str | None:
    """What the upstream would refuse in an UpdateTask body (VAS-API.md §2, §3), or None."""
    if not isinstance(body, dict):
        return "The body must be a JSON object."
    for key in body:
        if key not in UPDATE_KEYS:
            return f"parameter [{key}] cannot be updated."
    if "name" in body and not (isinstance(body["name"], str) and _NAME.match(body["name"])):
        return "parameter [name] does not match ^[\\u4E00-\\u9FA5a-zA-Z0-9_-]{1,100}$."
    if "description" in body and not (
        isinstance(body["description"], str) and len(body["description"]) <= 500
    ):
        return "parameter [description] must be a string of at most 500 characters."
    if "input" in body:
        inp = body["input"]
        if not isinstance(inp, dict) or not isinstance(inp.get("data"), list):
            return "parameter [input] must be an object with a data list."
        if len(inp["data"]) != 1:
            return "parameter [input.data] only one input stream can be updated."
    if "output" in body and not isinstance(body["output"], dict):
        return "parameter [output] must be an object."
    if "service_config" in body:
        config = body["service_config"]
        if not isinstance(config, dict) or not isinstance(config.get("common"), dict):
            return "parameter [service_config.common] must be an object."
        roi = config["common"].get("target_roi")
        if roi is not None:
            if not isinstance(roi, str):
                return "parameter [target_roi] must be a string holding escaped JSON."
            try:
                parsed = json.loads(roi) if roi.strip() else {}
            except ValueError:
                return "parameter [target_roi] is not valid JSON."
            if not isinstance(parsed, dict) or set(parsed) - {"lines", "polygons"}:
                return "parameter [target_roi] must be an object of lines and polygons."
    return None


_SIG_FAIL = "Incorrect IAM authentication information: verify aksk signature fail"


class _Abort(Exception):
    """Raised to make the server close the connection without an answer."""


def _iso(ts: float, *, millis: bool = False) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _err(code: str, msg: str) -> dict[str, Any]:
    return {"error_msg": msg, "error_code": code, "request_id": secrets.token_hex(16)}


def _headers(content_type: str) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("X-Request-Id", secrets.token_hex(16))]


def _status_line(status: int) -> str:
    reasons = {
        200: "OK",
        201: "Created",
        202: "Accepted",
        204: "No Content",
        302: "Found",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return f"{status} {reasons.get(status, 'Unknown')}"


def _json(
    start_response: Callable[..., Any],
    status: int,
    doc: Any,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return _raw(start_response, status, body, "application/json;charset=UTF-8", extra)


def _raw(
    start_response: Callable[..., Any],
    status: int,
    body: bytes,
    content_type: str = "application/json",
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = _headers(content_type) + [("Content-Length", str(len(body)))] + (extra or [])
    if isinstance(extra, list) and extra and extra[0][0] == "X-Subject-Token":
        pass
    start_response(_status_line(status), headers)
    return [body]


def _empty(start_response: Callable[..., Any], status: int) -> list[bytes]:
    start_response(_status_line(status), _headers("application/json") + [("Content-Length", "0")])
    return []


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def _repeat(chunk: bytes, times: int) -> Iterator[bytes]:
    for _ in range(times):
        yield chunk


def _trickle(body: bytes, interval: float) -> Iterator[bytes]:
    for i in range(len(body)):
        yield body[i : i + 1]
        time.sleep(interval)


def _drop(part: bytes) -> Iterator[bytes]:
    yield part
    raise _Abort()


def _read_body(environ: dict[str, Any]) -> bytes:
    cached = environ.get("sim.body")
    if cached is not None:
        return cached
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["sim.body"] = body
    return body


def _wsgi_path(environ: dict[str, Any]) -> str:
    # PEP 3333: PATH_INFO is the percent-decoded path as latin-1; recover the UTF-8 text.
    return environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", errors="replace")


def _environ_header(environ: dict[str, Any], name: str) -> str | None:
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    if value is None:
        return None
    # Header bytes arrive as latin-1 text; the signer hashed their UTF-8 form.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


# ---------------------------------------------------------------------------- server


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def get_stderr(self) -> io.StringIO:
        return io.StringIO()  # tracebacks of aborted answers are expected; keep tests quiet

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["RAW_URI"] = self.path  # the path exactly as sent, for signature checks
        env["sim.socket"] = self.connection
        return env


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken pipes from clients that hung up on purpose (size caps, timeouts)


class RunningServer:
    """A simulator served on a real socket in a daemon thread."""

    def __init__(self, simulator: Simulator, host: str, port: int) -> None:
        self.simulator = simulator
        self._server = make_server(
            host, port, simulator.wsgi_app, server_class=_ThreadingServer, handler_class=_Handler
        )
        self.host = host
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving ``simulator`` (port 0 = any free port); see ``RunningServer.url``."""
    return RunningServer(simulator, host, port)


def serve_forever(simulator: Simulator, host: str, port: int) -> None:
    """Serve in the foreground until interrupted (used by ``manage.py runsimulator``)."""
    server = make_server(
        host, port, simulator.wsgi_app, server_class=_ThreadingServer, handler_class=_Handler
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


def expires_in(seconds: float) -> str:
    """An ISO time ``seconds`` from now (for fixtures building IAM answers)."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
