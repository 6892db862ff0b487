"""Outbound HTTP for the portal: bounded, retried, and guarded at the socket. No Django.

Every call the portal makes to a host it was *told about* (the VAS endpoint, the IAM endpoint,
a notification target) goes through here, so one set of rules holds for all of them:

- **Address guard at connect time.** The connection resolves the host once, checks every
  address against an :class:`AddressPolicy`, connects to exactly the checked address (TLS SNI,
  certificate check and ``Host`` still use the host name) and checks the connected peer again.
  A resolver that answers a public address to a first lookup and ``127.0.0.1`` to the next
  (DNS rebinding) therefore gains nothing: there is no second lookup. This is what healthchecks
  does with curl's ``OPENSOCKETFUNCTION`` (``hc/lib/curl.py``), done with urllib3.
- **Deadline.** A call has an overall deadline besides the connect/read timeouts; retries,
  ``Retry-After`` waits and slow bodies all stop at it (:class:`DeadlineRetry`).
- **Retries** only for connection failures and 500/502/503/504, only for the methods the caller
  names (GET by default), never for a read timeout (the request may have been processed).
- **Size caps counted after decompression**, read a chunk at a time: a gzip bomb or a huge error
  body costs at most the cap in memory.
- **No redirects, no proxies or .netrc from the environment.**

Public API (the monitor's notifications use it as well as the VAS and IAM clients)::

    hosts = settings.PORTAL_NOTIFY_ALLOWED_HOSTS          # empty: any public host
    policy = AddressPolicy.from_hosts(hosts, any_public_host=not hosts,
                                      setting="PORTAL_NOTIFY_ALLOWED_HOSTS")
    policy.check_url(url)        # cheap, no DNS, when a URL is saved (raises EndpointNotAllowed)
    transport = Transport(policy=policy, peer="notification", retry_methods=(),
                          timeout=(3, 5), deadline=10, max_body=64 * 1024)
    answer = transport.request("POST", url, json=payload)   # Answer(status, body, headers, ...)

    session = guarded_session(policy)  # a plain requests.Session with the connect-time guard
                                       # (and no redirects), for libraries that take a session

Failures are the typed errors of ``errors.py``, with a ``reason`` and ``params`` the portal's
error catalogue words (see :data:`REASONS`): :class:`EndpointNotAllowed` (``not_listed``,
``not_public``: the policy refused the host or an address), :class:`UpstreamTimeout`,
:class:`UpstreamUnavailable`, :class:`UpstreamInvalidResponse` (too big, undecodable, a
redirect), :class:`UpstreamAuthFailed` (a header value that cannot be sent).
``Transport.request`` does not judge HTTP statuses: it returns every answer it could read, and
the caller decides. A connection that the policy refuses is never opened, so nothing is sent.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import ipaddress
import json
import math
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ResponseError,
)
from urllib3.poolmanager import PoolManager
from urllib3.util.connection import allowed_gai_family
from urllib3.util.retry import Retry
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from .errors import (
    EndpointNotAllowed,
    UpstreamAuthFailed,
    UpstreamInvalidResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    VasError,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Largest upstream body accepted, counted after decompression.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: Error bodies are only needed for their code and message.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: Deepest nesting accepted in an upstream document (a task is a handful of levels deep).
MAX_JSON_DEPTH = 100
_CHUNK = 64 * 1024

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

# Cloud metadata services hand out the machine's own credentials: never reachable, listed or not
# (AWS/GCP/Azure/Huawei 169.254.169.254, AWS IPv6, Alibaba).
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# ------------------------------------------------------------------------------ the policy


def normalise_host(host: str) -> str:
    """Lower case, no brackets, no trailing dot: the form hosts are compared in."""
    return host.strip().lower().strip("[]").rstrip(".")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and literal loopback addresses (``127.0.0.0/8``, ``::1``)."""
    host = normalise_host(host)
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """Whether ``host`` matches the allow list (leading dot = suffix match, else exact)."""
    host = normalise_host(host)
    for entry in allowed_hosts:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry.startswith("."):
            # ".myhuaweicloud.com" matches sub-domains only, never "evilmyhuaweicloud.com".
            if host.endswith(entry) and len(host) > len(entry):
                return True
        elif host == normalise_host(entry):
            return True
    return False


def listed_exactly(host: str, allowed_hosts: Iterable[str]) -> bool:
    """Whether ``host`` is on the list as itself (not through a ``.suffix`` entry)."""
    host = normalise_host(host)
    return any(
        not e.strip().startswith(".") and normalise_host(e) == host for e in allowed_hosts if e
    )


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """Globally reachable unicast, also for the IPv4 address inside an IPv6 one."""
    inner = _embedded_ipv4(ip)
    if inner is not None and not is_public_address(inner):
        return False
    if ip in _METADATA:
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


@dataclass(frozen=True)
class AddressPolicy:
    """Which hosts an outbound call may name, and which addresses it may then connect to.

    - A host must match ``allowed_hosts`` (``.example.com`` = any sub-domain, else exact),
      unless ``any_public_host`` is set (notification targets: any host with public addresses).
    - Every address the host resolves to must be public. The exceptions need the host to be on
      the list *as itself*: a listed IP literal may be that (private or loopback) address, and a
      listed ``localhost`` may resolve to loopback. A public name, even listed exactly, never
      reaches a non-public address, so rebinding a listed name gains nothing.
    - A network listed in CIDR form (``10.20.0.0/16``) lets any allowed host reach addresses in
      it: for a private receiver with a TLS certificate for its name.
    - Cloud metadata addresses (169.254.169.254 …) are refused whatever the list says.

    ``setting`` names the configuration the list comes from, for the error messages.
    """

    allowed_hosts: tuple[str, ...] = ()
    any_public_host: bool = False
    setting: str = "PORTAL_UPSTREAM_ALLOWED_HOSTS"

    @classmethod
    def from_hosts(cls, allowed_hosts: Iterable[str], **kwargs: Any) -> AddressPolicy:
        return cls(allowed_hosts=tuple(h for h in allowed_hosts if h and h.strip()), **kwargs)

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The entries of the list written as networks (``10.20.0.0/16``)."""
        found = []
        for entry in self.allowed_hosts:
            if "/" in entry:
                try:
                    found.append(ipaddress.ip_network(entry.strip(), strict=False))
                except ValueError:
                    continue
        return tuple(found)

    def host_allowed(self, host: str) -> bool:
        """Whether a URL may name ``host`` at all (no DNS)."""
        return self.any_public_host or host_allowed(host, self.allowed_hosts)

    def address_allowed(self, host: str, ip: IPAddress) -> bool:
        """Whether a connection to ``host`` may go to address ``ip``."""
        if ip in _METADATA or _embedded_ipv4(ip) in _METADATA:
            return False
        if is_public_address(ip):
            return True
        if self.host_allowed(host) and any(ip in network for network in self.networks):
            return True
        if not listed_exactly(host, self.allowed_hosts):
            return False
        name = normalise_host(host)
        try:
            literal: IPAddress | None = ipaddress.ip_address(name)
        except ValueError:
            literal = None
        if literal is not None:
            return literal == ip or (_embedded_ipv4(ip) == literal)
        return name in LOOPBACK_NAMES and ip.is_loopback

    def check_host(self, host: str) -> None:
        """Raise :class:`EndpointNotAllowed` when a URL may not name ``host``."""
        if not host or not self.host_allowed(host):
            raise EndpointNotAllowed(
                "not_listed", params={"host": normalise_host(host), "setting": self.setting}
            )

    def check_address(self, host: str, address: str) -> None:
        """Raise :class:`EndpointNotAllowed` when ``host`` may not be reached at ``address``."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise EndpointNotAllowed() from None
        if not self.address_allowed(host, ip):
            raise EndpointNotAllowed("not_public", params={"host": normalise_host(host)})

    def check_url(self, url: str) -> None:
        """The checks possible before any DNS lookup: an http(s) URL naming an allowed host."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise EndpointNotAllowed() from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EndpointNotAllowed()
        self.check_host(parts.hostname)


# ------------------------------------------------------------------------ the guarded socket


def _open_guarded_socket(conn: HTTPConnection, policy: AddressPolicy) -> socket.socket:
    """urllib3's ``create_connection``, with one lookup and the policy applied to its answer."""
    host = normalise_host(conn._dns_host)
    policy.check_host(conn.host)
    try:
        infos = socket.getaddrinfo(host, conn.port, allowed_gai_family(), socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except UnicodeError:
        raise NameResolutionError(conn.host, conn, socket.gaierror("bad name")) from None
    if not infos:
        raise NewConnectionError(conn, "getaddrinfo returned no address")
    # A name mixing public and non-public addresses is refused outright, not filtered.
    for info in infos:
        policy.check_address(conn.host, str(info[4][0]))
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            timeout: Any = conn.timeout  # a float, None, or urllib3's "not given" sentinel
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(address)
            # Belt and braces: judge the peer we are actually talking to.
            policy.check_address(conn.host, str(sock.getpeername()[0]))
        except EndpointNotAllowed:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock
    if isinstance(error, TimeoutError | socket.timeout):
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
        ) from error
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error


class GuardedHTTPConnection(HTTPConnection):
    """An urllib3 connection that connects only where its ``AddressPolicy`` allows."""

    def __init__(self, *args: Any, address_policy: AddressPolicy, **kwargs: Any) -> None:
        self.address_policy = address_policy
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        return _open_guarded_socket(self, self.address_policy)


class GuardedHTTPSConnection(HTTPSConnection):
    """The TLS variant: SNI and the certificate check use the host name, as usual."""

    def __init__(self, *args: Any, address_policy: AddressPolicy, **kwargs: Any) -> None:
        self.address_policy = address_policy
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        return _open_guarded_socket(self, self.address_policy)


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    def __init__(self, *args: Any, address_policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address_policy = address_policy
        self.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        # Added after the pool key is computed (the key has fixed fields), passed to every
        # connection of the pool as a keyword argument.
        context = dict(self.connection_pool_kw if request_context is None else request_context)
        context["address_policy"] = self.address_policy
        return super()._new_pool(scheme, host, port, context)


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections apply an ``AddressPolicy`` at connect time."""

    # What requests pickles of an adapter (it rebuilds the pool manager from these).
    __attrs__ = [*HTTPAdapter.__attrs__, "address_policy"]

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        self.address_policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            address_policy=self.address_policy,
            **pool_kwargs,
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through a proxy the guard would judge the proxy's address, not the target's.
        raise EndpointNotAllowed()


# ------------------------------------------------------------------------ deadline and retry

# Absolute time.monotonic() by which the current call must finish; read by DeadlineRetry, which
# urllib3 copies on every attempt, so the deadline cannot live on the Retry object itself.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vas_deadline", default=None
)


def remaining() -> float | None:
    """Seconds left before the current call's deadline (None outside a call)."""
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
        left = remaining()
        return left is not None and left <= 0.05

    def _cap(self, seconds: float) -> float:
        left = remaining()
        if left is None:
            return seconds
        return max(0.0, min(seconds, left - 0.05))

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
            left = remaining()
            if wait is not None and left is not None and wait >= left:
                pool: Any = kwargs.get("_pool")
                raise MaxRetryError(pool, url or "", ResponseError("retry-after"))
        retry = super().increment(method, url, *args, **kwargs)
        if response is not None:
            # urllib3 drains the body of an answer it retries, with no deadline and no cap: a
            # huge or trickling error body would hold the call. Drop the connection instead.
            response.close()
        return retry


def make_retry(methods: Iterable[str] = ("GET",)) -> DeadlineRetry:
    """At most two retries, for connection failures and 5xx, only for ``methods``."""
    # read=False: a read timeout or a connection dropped after sending is never retried (the
    # request may have been processed) and surfaces as its own exception type.
    allowed = frozenset(m.upper() for m in methods)
    return DeadlineRetry(
        total=2,
        connect=2,
        read=False,
        # urllib3 reads an empty method set as "every method": no methods, no status retries.
        status=2 if allowed else 0,
        other=0,
        allowed_methods=allowed,
        status_forcelist=(500, 502, 503, 504),
        backoff_factor=0.05,
        backoff_jitter=0.05,
        backoff_max=1.0,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        redirect=0,
    )


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


# ---------------------------------------------------------------------------------- sessions


class GuardedSession(requests.Session):
    """A session that never follows a redirect: a 3xx is answered to the caller as it came."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


def guarded_session(
    policy: AddressPolicy | None,
    *,
    retry_methods: Iterable[str] = ("GET",),
    pool_maxsize: int = 16,
) -> requests.Session:
    """A new ``requests.Session`` whose every connection is checked against ``policy``.

    No proxies or .netrc from the environment, no redirects followed (a 3xx is returned as it
    came), retries as :func:`make_retry`. ``policy=None`` gives the same session without the
    guard (tests and benchmarks against a local server only).
    """
    session = GuardedSession()
    # No proxies/.netrc from the environment: outbound calls must be predictable.
    session.trust_env = False
    options: dict[str, Any] = {
        "max_retries": make_retry(retry_methods),
        "pool_connections": 2,
        "pool_maxsize": pool_maxsize,
    }
    adapter = HTTPAdapter(**options) if policy is None else GuardedAdapter(policy, **options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_sessions: dict[tuple[Any, ...], requests.Session] = {}
_sessions_lock = threading.Lock()


def shared_session(
    endpoint: str,
    *,
    policy: AddressPolicy | None = None,
    retry_methods: Iterable[str] = ("GET",),
    pool_maxsize: int = 16,
) -> requests.Session:
    """The process-wide guarded session for ``endpoint`` and policy (created once, thread-safe).

    Connection reuse matters: a TLS handshake costs more than a task fetch.
    """
    methods = frozenset(m.upper() for m in retry_methods)
    key = (endpoint.rstrip("/"), policy, methods, pool_maxsize)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = guarded_session(policy, retry_methods=methods, pool_maxsize=pool_maxsize)
            _sessions[key] = session
        return session


# ------------------------------------------------------------------------------ the transport


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def _depth_exceeds(doc: Any, limit: int) -> bool:
    """Whether ``doc`` nests lists/objects deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
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


@dataclass
class Answer:
    """An HTTP answer read within the caps: any status, the caller judges it."""

    status: int
    body: bytes
    headers: requests.structures.CaseInsensitiveDict[str]
    request_id: str | None = None
    #: The headers as sent (after the auth hook): holds credentials, so never shown.
    sent_headers: Mapping[str, str] = field(default_factory=dict, repr=False)


#: Each failure reason the transport raises, with its error class (the catalogue words them).
REASONS: dict[str, type[VasError]] = {
    "timeout": UpstreamTimeout,  # the code's general case
    "slow_body": UpstreamTimeout,
    "tls": UpstreamUnavailable,
    "unreachable": UpstreamUnavailable,
    "unresolvable": UpstreamUnavailable,
    "dropped": UpstreamUnavailable,
    "unsendable": UpstreamAuthFailed,
    "redirect": UpstreamInvalidResponse,
    "too_large": UpstreamInvalidResponse,
    "undecodable": UpstreamInvalidResponse,
}


class Transport:
    """Bounded HTTP calls to hosts an :class:`AddressPolicy` allows.

    ``timeout`` is (connect, read) per attempt; ``deadline`` bounds the whole call (all attempts,
    waits and the body), default connect + read + 2 s. A call made inside another one (an IAM
    token fetched while signing a VAS call) ends by the outer deadline too.

    Failures are raised as the ``errors.py`` classes with a ``reason`` the error catalogue words
    (``slow_body``, ``tls``, ``unreachable``, ``unresolvable``, ``unsendable``, ``redirect``,
    ``too_large``, ``undecodable``, ``dropped``; ``timeout`` stands for the code's general
    case). ``reasons`` renames them for another peer, e.g. ``{"timeout": "iam"}``; ``peer`` is a
    label for logs and reprs.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy | None,
        peer: str = "upstream",
        timeout: tuple[float, float] = (3.0, 10.0),
        deadline: float | None = None,
        max_body: int = MAX_BODY_BYTES,
        max_error_body: int = MAX_ERROR_BODY_BYTES,
        retry_methods: Iterable[str] = ("GET",),
        reasons: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        session_key: str = "",
    ) -> None:
        self.policy = policy
        self.peer = peer
        self.timeout = (float(timeout[0]), float(timeout[1]))
        self.deadline = (
            float(deadline) if deadline is not None else self.timeout[0] + self.timeout[1] + 2.0
        )
        self.max_body = max_body
        self.max_error_body = max_error_body
        self.reasons = dict(reasons or {})
        self.session = session or shared_session(
            session_key, policy=policy, retry_methods=retry_methods
        )

    def __repr__(self) -> str:
        return f"Transport(peer={self.peer!r}, policy={self.policy!r})"

    def _reason(self, name: str) -> str:
        reason = self.reasons.get(name, name)
        return "" if reason == "timeout" else reason

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: requests.auth.AuthBase | None = None,
        max_body: int | None = None,
    ) -> Answer:
        """Send one request (retried as configured) and read its answer within the caps
        (``max_body`` overrides the transport's success cap for this call)."""
        if self.policy is not None:
            self.policy.check_url(url)
        with self.deadline_scope():
            return self._send(method, url, params, json, data, headers, auth, max_body)

    @contextlib.contextmanager
    def deadline_scope(self) -> Iterator[None]:
        """Run a block (several requests) within this transport's deadline, or an outer one's
        if that ends sooner."""
        outer = _deadline.get()
        mine = time.monotonic() + self.deadline
        token = _deadline.set(mine if outer is None else min(outer, mine))
        try:
            yield
        finally:
            _deadline.reset(token)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        auth: requests.auth.AuthBase | None,
        max_body: int | None = None,
    ) -> Answer:
        left = remaining() or 0.0
        if left <= 0:
            raise UpstreamTimeout(self._reason("timeout"))
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        try:
            resp = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=data,
                headers=dict(headers) if headers else None,
                auth=auth,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout:
            raise UpstreamTimeout(self._reason("timeout")) from None
        except requests.exceptions.SSLError:
            raise UpstreamUnavailable(self._reason("tls")) from None
        except requests.RequestException as exc:
            if _caused_by(exc, NameResolutionError):
                host = urlsplit(url).hostname or ""
                raise UpstreamUnavailable(
                    self._reason("unresolvable"), params={"host": host}
                ) from None
            if _caused_by_timeout(exc):
                raise UpstreamTimeout(self._reason("timeout")) from None
            raise UpstreamUnavailable(self._reason("unreachable")) from None
        except ValueError:
            # http.client refuses a header value with a line break or a non-Latin-1 character
            # and its message quotes the value: here a credential (token, AK, security token).
            raise UpstreamAuthFailed(self._reason("unsendable")) from None
        with resp:
            request_id = resp.headers.get("X-Request-Id")
            status = resp.status_code
            if 300 <= status < 400:
                raise UpstreamInvalidResponse(
                    self._reason("redirect"),
                    params={"status": status},
                    status=status,
                    request_id=request_id,
                )
            ok = 200 <= status < 300
            body = self._read_body(resp, ok, request_id, max_body or self.max_body)
        sent = resp.request.headers if resp.request is not None else {}
        return Answer(
            status=status,
            body=body,
            headers=requests.structures.CaseInsensitiveDict(resp.headers),
            request_id=request_id,
            sent_headers=dict(sent),
        )

    def _read_body(
        self, resp: requests.Response, ok: bool, request_id: str | None, max_body: int
    ) -> bytes:
        """Read at most the cap of decoded bytes, enforcing the deadline between socket reads.

        A success body over the cap is refused; an error body is cut (its start is enough).
        """
        status = resp.status_code
        cap = max_body if ok else self.max_error_body
        too_big = UpstreamInvalidResponse(
            self._reason("too_large"),
            params={"max_mib": f"{max_body / (1024 * 1024):g}"},
            status=status,
            request_id=request_id,
        )
        length = resp.headers.get("Content-Length")
        compressed = "Content-Encoding" in resp.headers
        if ok and not compressed and length and length.isdigit() and int(length) > cap:
            raise too_big
        raw = resp.raw
        chunks: list[bytes] = []
        size = 0
        slow = UpstreamTimeout(self._reason("slow_body"), status=status, request_id=request_id)
        try:
            while True:
                left = remaining()
                if left is not None and left <= 0:
                    raise slow
                read_timeout = self.timeout[1] if left is None else min(self.timeout[1], left)
                _set_socket_timeout(raw, read_timeout)
                # read1 returns as soon as some bytes arrive (a trickling server cannot hold us
                # in one read), and decodes gzip/deflate at most ``amt`` bytes at a time.
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    if ok:
                        raise too_big
                    chunks.append(chunk[: cap - (size - len(chunk))])
                    break
                chunks.append(chunk)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise slow from None
        except urllib3.exceptions.DecodeError:
            raise UpstreamInvalidResponse(
                self._reason("undecodable"), status=status, request_id=request_id
            ) from None
        except (urllib3.exceptions.HTTPError, OSError):
            raise UpstreamUnavailable(
                self._reason("dropped"), status=status, request_id=request_id
            ) from None
        return b"".join(chunks)


def _set_socket_timeout(raw: Any, seconds: float) -> None:
    """Bound the next socket read by the remaining deadline (best effort)."""
    try:
        sock = raw.connection.sock
        if sock is not None:
            sock.settimeout(max(0.01, seconds))
    except (AttributeError, OSError):
        pass


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and what caused it (reasons, causes, contexts, exception arguments)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, NewConnectionError):
            continue  # a refusal, whatever urllib3 chained below it
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(cause, kind) for cause in _causes(exc))


def _caused_by_timeout(exc: BaseException) -> bool:
    return any(
        # urllib3 makes NewConnectionError a ConnectTimeoutError subclass, but it is a refusal.
        not isinstance(cause, NewConnectionError)
        and isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError | requests.Timeout)
        for cause in _causes(exc)
    )


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_ERROR_BODY_BYTES",
    "AddressPolicy",
    "Answer",
    "DeadlineRetry",
    "GuardedAdapter",
    "Transport",
    "guarded_session",
    "host_allowed",
    "is_loopback_host",
    "is_public_address",
    "make_retry",
    "parse_json",
    "parse_retry_after",
    "remaining",
    "shared_session",
]
