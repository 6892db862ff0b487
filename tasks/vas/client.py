"""The VAS HTTP client: timeouts, bounded retries, size caps, address guard, typed errors.

One ``requests.Session`` per endpoint is shared by every client (connection reuse matters: a
TLS handshake costs more than a task fetch). All upstream failures surface as ``VasError``
subclasses (see ``errors.py``).
"""

from __future__ import annotations

import contextvars
import email.utils
import ipaddress
import json
import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from .endpoints import host_allowed, is_loopback_host
from .errors import (
    EndpointNotAllowed,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamInvalidResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    VasError,
    error_for_status,
)
from .parsing import redact_task

#: Largest upstream body accepted, counted after decompression.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: A page of the task list holds up to 1,000 whole task documents: its own, larger cap.
MAX_LIST_BODY_BYTES = 32 * 1024 * 1024
#: Deepest nesting accepted in an upstream document (a task is a handful of levels deep).
MAX_JSON_DEPTH = 100
#: Error bodies are only needed for their code and message.
MAX_ERROR_BODY_BYTES = 64 * 1024
_CHUNK = 64 * 1024
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SERVICE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")

# Absolute time.monotonic() by which the current call must finish; read by DeadlineRetry, which
# urllib3 copies on every attempt, so the deadline cannot live on the Retry object itself.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vas_deadline", default=None
)


def _remaining() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class DeadlineRetry(Retry):
    """urllib3 Retry that never sleeps (or retries) past the current call's deadline."""

    # 429 is answered to the caller with its Retry-After instead of being retried in-process;
    # 413 is never worth retrying.
    RETRY_AFTER_STATUS_CODES = frozenset({503})

    def is_exhausted(self) -> bool:
        if super().is_exhausted():
            return True
        remaining = _remaining()
        return remaining is not None and remaining <= 0.05

    def _cap(self, seconds: float) -> float:
        remaining = _remaining()
        if remaining is None:
            return seconds
        return max(0.0, min(seconds, remaining - 0.05))

    def parse_retry_after(self, retry_after: str) -> float:
        # urllib3 raises InvalidHeader on fractional or odd values ("0.5"); be lenient instead.
        value = parse_retry_after(retry_after)
        return 0.0 if value is None else min(value, float(self.retry_after_max))

    def get_backoff_time(self) -> float:
        return self._cap(super().get_backoff_time())

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else self._cap(value)

    def increment(
        self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any
    ) -> DeadlineRetry:
        response = kwargs.get("response")
        if response is not None:
            # A Retry-After beyond the deadline: answer the caller now (with the hint) rather
            # than sleep to no purpose. urllib3 returns the last response on MaxRetryError.
            wait = Retry.get_retry_after(self, response)
            remaining = _remaining()
            if wait is not None and remaining is not None and wait >= remaining:
                raise MaxRetryError(kwargs.get("_pool"), url or "", ResponseError("retry-after"))
        return super().increment(method, url, *args, **kwargs)


def make_retry() -> DeadlineRetry:
    # read=False: a read timeout or a connection dropped after sending is never retried (the
    # request may have been processed) and surfaces as its own exception type.
    return DeadlineRetry(
        total=2,
        connect=2,
        read=False,
        status=2,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=(500, 502, 503, 504),
        backoff_factor=0.05,
        backoff_jitter=0.05,
        backoff_max=1.0,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        redirect=0,
    )


_sessions: dict[tuple[str, int], requests.Session] = {}
_sessions_lock = threading.Lock()


def shared_session(endpoint: str, *, pool_maxsize: int = 16) -> requests.Session:
    """The process-wide session for ``endpoint`` (created once, thread-safe)."""
    key = (endpoint, pool_maxsize)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = requests.Session()
            # No proxies/.netrc from the environment: upstream calls must be predictable.
            session.trust_env = False
            adapter = HTTPAdapter(
                max_retries=make_retry(), pool_connections=2, pool_maxsize=pool_maxsize
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[key] = session
        return session


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def _depth_exceeds(doc: Any, limit: int) -> bool:
    """Whether ``doc`` nests lists/objects deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(body: bytes) -> Any:
    """Strict JSON: NaN/Infinity rejected, nesting bounded. Raises ValueError."""
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    # json.loads accepts ~1000 levels, but redaction (deepcopy), hashing, diffs and the pages
    # recurse too and would fail far sooner; a task document is a handful of levels deep.
    if _depth_exceeds(doc, MAX_JSON_DEPTH):
        raise ValueError("JSON nested too deeply")
    return doc


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


@dataclass
class _Answer:
    status: int
    body: bytes
    request_id: str | None
    headers: requests.structures.CaseInsensitiveDict[str]


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


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
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self.project_id = project_id
        self.auth = auth
        self.timeout = (float(timeout[0]), float(timeout[1]))
        self.deadline = (
            float(deadline) if deadline is not None else self.timeout[0] + self.timeout[1] + 2.0
        )
        self.allowed_hosts = None if allowed_hosts is None else tuple(allowed_hosts)
        self.session = session or shared_session(self.endpoint)

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

    def _guard(self) -> None:
        """Refuse endpoints resolving to non-public addresses (SSRF), unless allowed loopback."""
        if self.allowed_hosts is None:
            return
        if not host_allowed(self._host, self.allowed_hosts):
            raise EndpointNotAllowed("not_listed", params={"host": self._host})
        loopback_ok = is_loopback_host(self._host) and any(
            h.strip().lower().strip("[]") == self._host.lower() for h in self.allowed_hosts
        )
        try:
            infos = socket.getaddrinfo(self._host, self._port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise UpstreamUnavailable("unresolvable", params={"host": self._host}) from None
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                raise EndpointNotAllowed() from None
            if loopback_ok and ip.is_loopback:
                continue
            if not _is_public(ip):
                raise EndpointNotAllowed("not_public", params={"host": self._host})

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        cap: int = MAX_BODY_BYTES,
    ) -> _Answer:
        token = _deadline.set(time.monotonic() + self.deadline)
        try:
            self._guard()
            answer = self._send(method, path, params, body, cap)
            invalidate = getattr(self.auth, "invalidate", None)
            if answer.status == 401 and callable(invalidate):
                # The token may have been revoked or expired early: fetch a new one, once.
                invalidate(answer.headers.get("_sent_token"))
                answer = self._send(method, path, params, body, cap)
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
        finally:
            _deadline.reset(token)

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: bytes | None = None,
        success_cap: int = MAX_BODY_BYTES,
    ) -> _Answer:
        left = _remaining()
        remaining = self.deadline if left is None else left
        if remaining <= 0:
            raise UpstreamTimeout()
        timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
        try:
            resp = self.session.request(
                method,
                self.endpoint + path,
                params=params,
                data=body,
                auth=self.auth,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout:
            raise UpstreamTimeout() from None
        except requests.exceptions.SSLError:
            raise UpstreamUnavailable("tls") from None
        except requests.RequestException as exc:
            if _caused_by_timeout(exc):
                raise UpstreamTimeout() from None
            raise UpstreamUnavailable("unreachable") from None
        except ValueError:
            # http.client refuses a header value with a line break or a non-Latin-1 character
            # and its message quotes the value: here a credential (token, AK, security token).
            raise UpstreamAuthFailed("unsendable") from None
        with resp:
            request_id = resp.headers.get("X-Request-Id")
            status = resp.status_code
            sent_token = resp.request.headers.get("X-Auth-Token") if resp.request else None
            if 300 <= status < 400:
                raise UpstreamInvalidResponse(
                    "redirect",
                    params={"status": status},
                    status=status,
                    request_id=request_id,
                )
            cap = success_cap if 200 <= status < 300 else MAX_ERROR_BODY_BYTES
            body = self._read_body(resp, cap, status, request_id)
        headers = requests.structures.CaseInsensitiveDict(resp.headers)
        if sent_token:
            headers["_sent_token"] = sent_token
        return _Answer(status=status, body=body, request_id=request_id, headers=headers)

    def _read_body(
        self,
        resp: requests.Response,
        cap: int,
        status: int,
        request_id: str | None,
    ) -> bytes:
        """Read at most ``cap`` decoded bytes, enforcing the deadline between socket reads."""
        too_big = UpstreamInvalidResponse(
            "too_large",
            params={"max_mib": max(cap, MAX_BODY_BYTES) // (1024 * 1024)},
            status=status,
            request_id=request_id,
        )
        length = resp.headers.get("Content-Length")
        if (
            length
            and length.isdigit()
            and int(length) > cap
            and "Content-Encoding" not in resp.headers
        ) and 200 <= status < 300:
            raise too_big
        raw = resp.raw
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                remaining = _remaining()
                if remaining is not None and remaining <= 0:
                    raise UpstreamTimeout(
                        "slow_body",
                        status=status,
                        request_id=request_id,
                    )
                read_timeout = self.timeout[1] if remaining is None else remaining
                _set_socket_timeout(raw, min(self.timeout[1], read_timeout))
                # read1 returns as soon as some bytes arrive (a trickling server cannot hold us
                # in one read), and decodes gzip/deflate at most ``amt`` bytes at a time.
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    if 200 <= status < 300:
                        raise too_big
                    break  # an oversized error body: its start is enough
                chunks.append(chunk)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise UpstreamTimeout(
                "slow_body",
                status=status,
                request_id=request_id,
            ) from None
        except urllib3.exceptions.DecodeError:
            raise UpstreamInvalidResponse(
                "undecodable",
                status=status,
                request_id=request_id,
            ) from None
        except (urllib3.exceptions.HTTPError, OSError):
            raise UpstreamUnavailable(
                "dropped",
                status=status,
                request_id=request_id,
            ) from None
        return b"".join(chunks)

    def _json(self, answer: _Answer) -> dict[str, Any]:
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


def _set_socket_timeout(raw: Any, seconds: float) -> None:
    """Bound the next socket read by the remaining deadline (best effort)."""
    try:
        sock = raw.connection.sock
        if sock is not None:
            sock.settimeout(max(0.01, seconds))
    except (AttributeError, OSError):
        pass


def _caused_by_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            continue  # urllib3 makes it a ConnectTimeoutError subclass, but it is a refusal
        if isinstance(current, urllib3.exceptions.TimeoutError | TimeoutError | requests.Timeout):
            return True
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
    return False


__all__ = [
    "MAX_BODY_BYTES",
    "CheckResult",
    "DeadlineRetry",
    "Fetched",
    "TaskPage",
    "UpstreamBadRequest",
    "VasClient",
    "parse_json",
    "parse_retry_after",
    "shared_session",
]
