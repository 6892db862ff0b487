"""The VAS task operations: paths, documents, typed errors. The HTTP itself is ``transport.py``.

One guarded ``requests.Session`` per endpoint is shared by every client (connection reuse
matters: a TLS handshake costs more than a task fetch). All upstream failures surface as
``VasError`` subclasses (see ``errors.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from .errors import (
    UpstreamBadRequest,
    UpstreamInvalidResponse,
    VasError,
    error_for_status,
)
from .parsing import redact_task
from .transport import (
    MAX_BODY_BYTES,
    MAX_ERROR_BODY_BYTES,
    MAX_JSON_DEPTH,
    AddressPolicy,
    Answer,
    DeadlineRetry,
    Transport,
    make_retry,
    parse_json,
    parse_retry_after,
    shared_session,
)

#: A page of the task list holds up to 1,000 whole task documents: its own, larger cap.
MAX_LIST_BODY_BYTES = 32 * 1024 * 1024
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SERVICE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@dataclass(frozen=True)
class Fetched:
    """One task document (already redacted) and the upstream's request id."""

    payload: dict[str, Any]
    request_id: str | None = None


@dataclass(frozen=True)
class TaskPage:
    """A page of the upstream task list; ``count`` is the total number of matches."""

    count: int
    tasks: list[dict[str, Any]] = field(default_factory=list)
    request_id: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """A connection test: ``count`` tasks listed, or the ``error`` that stopped it."""

    ok: bool
    count: int | None = None
    error: VasError | None = None
    request_id: str | None = None


class VasClient:
    """Calls one VAS endpoint for one project with the given auth."""

    def __init__(
        self,
        *,
        endpoint: str,
        project_id: str,
        auth: requests.auth.AuthBase,
        timeout: tuple[float, float] = (3.0, 10.0),
        deadline: float | None = None,
        allowed_hosts: list[str] | tuple[str, ...] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("endpoint must be an http(s) URL")
        self.project_id = project_id
        self.auth = auth
        self.allowed_hosts = None if allowed_hosts is None else tuple(allowed_hosts)
        # None switches the address guard off: tests and benchmarks against a local server.
        policy = None
        if self.allowed_hosts is not None:
            policy = AddressPolicy.from_hosts(self.allowed_hosts)
        self.transport = Transport(
            policy=policy,
            peer="the VAS upstream",
            timeout=timeout,
            deadline=deadline,
            max_body=MAX_BODY_BYTES,
            max_error_body=MAX_ERROR_BODY_BYTES,
            session=session or shared_session(self.endpoint, policy=policy),
        )
        self.timeout = self.transport.timeout
        self.deadline = self.transport.deadline
        self.session = self.transport.session

    def __repr__(self) -> str:
        return f"VasClient(endpoint={self.endpoint!r}, project_id={self.project_id!r})"

    # ---------------------------------------------------------------- public API

    def show_task(self, service: str, task_id: str) -> Fetched:
        """GET one task. Raises ``TaskNotFound`` and the other ``VasError`` subclasses."""
        fetched = self.show_task_unredacted(service, task_id)
        return Fetched(payload=redact_task(fetched.payload), request_id=fetched.request_id)

    def list_tasks(
        self,
        service: str,
        *,
        offset: int | None = None,
        limit: int | None = None,
        state: str | None = None,
        name_like: str | None = None,
        id_like: str | None = None,
        order: str | None = None,
    ) -> TaskPage:
        """GET the task list of a service (only the filters given are sent)."""
        params = {
            "offset": offset,
            "limit": limit,
            "state": state,
            "name_like": name_like,
            "id_like": id_like,
            "order": order,
        }
        query = {k: str(v) for k, v in params.items() if v is not None and v != ""}
        answer = self._call(
            "GET", self._service_path(service) + "/tasks", params=query, cap=MAX_LIST_BODY_BYTES
        )
        doc = self._json(answer)
        count, tasks = doc.get("count"), doc.get("tasks")
        if (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not isinstance(tasks, list)
            or not all(isinstance(t, dict) for t in tasks)
        ):
            raise UpstreamInvalidResponse(
                "not_a_list",
                status=answer.status,
                request_id=answer.request_id,
            )
        return TaskPage(
            count=count, tasks=[redact_task(t) for t in tasks], request_id=answer.request_id
        )

    def start_task(self, service: str, task_id: str) -> str | None:
        """POST …/start (202). Never retried. Returns the request id."""
        return self._call("POST", self._task_path(service, task_id) + "/start").request_id

    def stop_task(self, service: str, task_id: str) -> str | None:
        """POST …/stop (202). Never retried. Returns the request id."""
        return self._call("POST", self._task_path(service, task_id) + "/stop").request_id

    def show_task_unredacted(self, service: str, task_id: str) -> Fetched:
        """GET one task exactly as the upstream sent it, secrets included: only for building an
        UpdateTask body in memory (never store, cache, log or show it)."""
        answer = self._call("GET", self._task_path(service, task_id))
        doc = self._json(answer)
        if not (isinstance(doc.get("id"), str) and isinstance(doc.get("state"), str)):
            raise UpstreamInvalidResponse(
                "not_a_task",
                status=answer.status,
                request_id=answer.request_id,
            )
        return Fetched(payload=doc, request_id=answer.request_id)

    def update_task(self, service: str, task_id: str, body: dict[str, Any]) -> Fetched:
        """PUT …/tasks/{id} (UpdateTask, 200 with the task). Never retried. Returns the updated
        task redacted; a 2xx answer without a task body gives an empty payload."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        answer = self._call("PUT", self._task_path(service, task_id), body=data)
        doc = self._json(answer) if answer.body.strip() else {}
        return Fetched(payload=redact_task(doc), request_id=answer.request_id)

    def check(self, service: str = "c-face-edge") -> CheckResult:
        """Cheap connection test (list one task); never raises for upstream failures."""
        try:
            page = self.list_tasks(service, limit=1)
        except VasError as exc:
            return CheckResult(ok=False, error=exc, request_id=exc.request_id)
        except ValueError:
            return CheckResult(ok=False, error=UpstreamBadRequest("invalid_path"))
        return CheckResult(ok=True, count=page.count, request_id=page.request_id)

    # ---------------------------------------------------------------- internals

    def _service_path(self, service: str) -> str:
        if not isinstance(service, str) or not _SERVICE.match(service):
            raise ValueError("invalid service name")
        return f"/v2/{quote(self.project_id, safe='')}/services/{service}"

    def _task_path(self, service: str, task_id: str) -> str:
        if not isinstance(task_id, str) or not _PATH_SEGMENT.match(task_id):
            raise ValueError("invalid task id")
        return f"{self._service_path(service)}/tasks/{task_id}"

    def _secrets(self) -> tuple[str, ...]:
        getter = getattr(self.auth, "secrets", None)
        return tuple(getter()) if callable(getter) else ()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        cap: int = MAX_BODY_BYTES,
    ) -> Answer:
        """Send ``method path`` (below the endpoint) with ``body`` (bytes, signed as they are);
        a non-2xx answer raises its typed error.

        A 401 with a renewable token (IAM) is retried once with a fresh token.
        """
        url = self.endpoint + path
        # One deadline for the whole call: the token refetch and the second attempt included.
        with self.transport.deadline_scope():
            try:
                answer = self.transport.request(
                    method, url, params=params, data=body, auth=self.auth, max_body=cap
                )
                invalidate = getattr(self.auth, "invalidate", None)
                if answer.status == 401 and callable(invalidate):
                    # The token may have been revoked or expired early: fetch a new one, once.
                    invalidate(answer.sent_headers.get("X-Auth-Token"))
                    answer = self.transport.request(
                        method, url, params=params, data=body, auth=self.auth, max_body=cap
                    )
                if answer.status >= 400 or answer.status < 200:
                    raise error_for_status(
                        answer.status,
                        answer.body,
                        request_id=answer.request_id,
                        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
                    )
                return answer
            except VasError as exc:
                raise exc.scrub(self._secrets()) from None

    def _json(self, answer: Answer) -> dict[str, Any]:
        try:
            doc = parse_json(answer.body)
        except (ValueError, UnicodeDecodeError):
            raise UpstreamInvalidResponse(
                "not_json",
                status=answer.status,
                request_id=answer.request_id,
            ) from None
        if not isinstance(doc, dict):
            raise UpstreamInvalidResponse(
                "not_an_object",
                status=answer.status,
                request_id=answer.request_id,
            )
        return doc


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_LIST_BODY_BYTES",
    "CheckResult",
    "DeadlineRetry",
    "Fetched",
    "TaskPage",
    "UpstreamBadRequest",
    "VasClient",
    "make_retry",
    "parse_json",
    "parse_retry_after",
    "shared_session",
]
