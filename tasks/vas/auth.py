"""Authentication for VAS calls: AK/SK signing (SDK-HMAC-SHA256), static and IAM tokens.

The signer mirrors ``huaweicloudsdkcore.signer.signer.Signer`` byte for byte (docs/VAS-API.md §6.1);
the tests compare both on the same inputs.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from .errors import UpstreamAuthFailed, UpstreamInvalidResponse, VasError, error_for_status
from .transport import AddressPolicy, Transport, parse_json

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DEFAULT_USER_AGENT = "vas-task-portal/0.1"

# requests adds these after the auth hook in the SDK's flow, so the SDK never signs them; proxies
# may also rewrite them. Signing them would make signatures fragile for no gain.
UNSIGNED_HEADERS = frozenset({"accept", "accept-encoding", "connection", "content-length"})

#: Refresh an IAM token this long before it expires.
TOKEN_REFRESH_MARGIN = 300.0
#: An IAM token answer without the catalogue is a few KiB; anything near this is not IAM.
IAM_MAX_BODY_BYTES = 256 * 1024
#: The transport's failure reasons, as the error catalogue words them for IAM.
IAM_REASONS = {
    "timeout": "iam",
    "slow_body": "iam",
    "unreachable": "iam_unreachable",
    "dropped": "iam_unreachable",
    "tls": "iam_unreachable",
    "redirect": "iam_unusable",
    "too_large": "iam_unusable",
    "undecodable": "iam_unusable",
}


def _encode(value: str) -> str:
    # Same as the SDK: percent-encode everything but unreserved characters and "~".
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Decode then re-encode each path segment; always end with "/".

    docs/VAS-API.md §6.1 step 3."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    if not encoded.endswith("/"):
        encoded += "/"
    return encoded


def canonical_query(query: str) -> str:
    """Sorted, re-encoded ``k=v`` pairs joined with "&" (docs/VAS-API.md §6.1 step 4)."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Lower-cased, sorted names of the headers to sign (the SDK skips names containing "_")."""
    names = {k.lower() for k in headers if "_" not in k and k.lower() not in UNSIGNED_HEADERS}
    return sorted(names)


def canonical_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    signed_headers: list[str] | None = None,
) -> str:
    """Build the SDK-HMAC-SHA256 canonical request for a request as it will be sent."""
    parts = urlsplit(url)
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    if signed_headers is None:
        signed_headers = signed_header_names(headers)
    canonical_headers = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed_headers)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body:
        payload_hash = EMPTY_HASH
    else:
        payload_hash = lowered.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path or "/"),
            canonical_query(parts.query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    access_key: str,
    secret_key: str,
) -> str:
    """Return the ``Authorization`` header value for a request; ``headers`` must hold X-Sdk-Date."""
    sdk_date = _header(headers, "X-Sdk-Date")
    if not sdk_date:
        raise ValueError("X-Sdk-Date header is required to sign")
    names = signed_header_names(headers)
    canonical = canonical_request(method, url, headers, body, names)
    sig = signature(secret_key, string_to_sign(canonical, sdk_date))
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={sig}"


def _mask(value: str | None) -> str:
    if not value:
        return "None"
    return f"'••••{value[-4:]}'" if len(value) > 8 else "'••••'"


class AkSkAuth(AuthBase):
    """Signs each request with the AK/SK (SDK-HMAC-SHA256), like the official SDK."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        security_token: str | None = None,
        project_id: str | None = None,
        now: Callable[[], datetime] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("access key and secret key are required")
        self._access_key = access_key
        self._secret_key = secret_key
        self._security_token = security_token
        self.project_id = project_id
        self._now = now or (lambda: datetime.now(UTC))
        self.user_agent = user_agent

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in error texts."""
        return tuple(s for s in (self._access_key, self._secret_key, self._security_token) if s)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(r.url or "")
        # The gateway rebuilds the canonical query from what it receives, so send it sorted.
        query = canonical_query(parts.query)
        r.url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        r.headers["Content-Type"] = "application/json"
        r.headers["User-Agent"] = self.user_agent
        if self.project_id:
            r.headers["X-Project-Id"] = self.project_id
        if self._security_token:
            r.headers["X-Security-Token"] = self._security_token
        r.headers["X-Sdk-Date"] = self._now().astimezone(UTC).strftime(DATE_FORMAT)
        r.headers["Host"] = parts.netloc
        r.headers.pop("Authorization", None)
        body = r.body.encode("utf-8") if isinstance(r.body, str) else r.body
        r.headers["Authorization"] = sign(
            r.method or "GET", r.url, dict(r.headers), body, self._access_key, self._secret_key
        )
        return r

    def __repr__(self) -> str:
        return (
            f"AkSkAuth(access_key={_mask(self._access_key)}, secret_key='******', "
            f"security_token={'******' if self._security_token else None}, "
            f"project_id={self.project_id!r})"
        )


class StaticTokenAuth(AuthBase):
    """Sends a pasted IAM token as ``X-Auth-Token``."""

    def __init__(self, token: str, *, project_id: str | None = None) -> None:
        if not token:
            raise ValueError("token is required")
        self._token = token
        self.project_id = project_id

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Content-Type"] = "application/json"
        r.headers["X-Auth-Token"] = self._token
        if self.project_id:
            r.headers["X-Project-Id"] = self.project_id
        return r

    def __repr__(self) -> str:
        return "StaticTokenAuth(token='******')"


class IamPasswordAuth(AuthBase):
    """Gets a project-scoped token from IAM with a password and reuses it until near expiry.

    Thread-safe: when many threads need a token at once, exactly one calls IAM (lock + double
    check). ``invalidate(token)`` drops a token the VAS refused so the next call fetches anew.

    IAM is called through the same :class:`~tasks.vas.transport.Transport` as the VAS: the
    address guard (``allowed_hosts``, checked at connect time), the size caps, the deadline and
    retries (the token request is safe to repeat). Inside a VAS call, the VAS call's deadline
    bounds the token request too.
    """

    def __init__(
        self,
        *,
        iam_endpoint: str,
        domain: str,
        user: str,
        password: str,
        project_id: str,
        allowed_hosts: list[str] | tuple[str, ...] | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3, 10),
        deadline: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.iam_endpoint = iam_endpoint.rstrip("/")
        self.domain = domain
        self.user = user
        self._password = password
        self.project_id = project_id
        # None switches the address guard off: tests and benchmarks against a local server.
        policy = None if allowed_hosts is None else AddressPolicy.from_hosts(allowed_hosts)
        self.transport = Transport(
            policy=policy,
            peer="IAM",
            timeout=timeout,
            deadline=deadline,
            max_body=IAM_MAX_BODY_BYTES,
            retry_methods=("POST",),
            # The catalogue's IAM wording where it has one; the VAS wording otherwise.
            reasons=IAM_REASONS,
            session=session,
            session_key=self.iam_endpoint,
        )
        self.timeout = self.transport.timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: float = 0.0
        #: How many times IAM was asked for a token (for tests and metrics).
        self.fetch_count = 0

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._password, self._token) if s)

    def _valid(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at - TOKEN_REFRESH_MARGIN

    def get_token(self) -> str:
        """Return a valid token, fetching one from IAM when missing or about to expire."""
        if self._valid():
            return self._token  # type: ignore[return-value]
        with self._lock:
            if not self._valid():  # another thread may have refreshed while we waited
                self._token, self._expires_at = self._fetch()
            return self._token  # type: ignore[return-value]

    def invalidate(self, token: str | None) -> None:
        """Forget ``token`` if it is still the current one (the VAS answered 401 with it)."""
        with self._lock:
            if token is None or token == self._token:
                self._token = None
                self._expires_at = 0.0

    def _fetch(self) -> tuple[str, float]:
        self.fetch_count += 1
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.user,
                            "password": self._password,
                            "domain": {"name": self.domain},
                        }
                    },
                },
                "scope": {"project": {"id": self.project_id}},
            }
        }
        url = f"{self.iam_endpoint}/v3/auth/tokens?nocatalog=true"
        try:
            answer = self.transport.request(
                "POST",
                url,
                json=body,
                headers={"Content-Type": "application/json;charset=utf8"},
            )
        except VasError as exc:
            raise exc.scrub(self.secrets()) from None
        status, request_id = answer.status, answer.request_id
        if status in (400, 401, 403):
            err = error_for_status(status, answer.body[:4096], request_id=request_id)
            raise UpstreamAuthFailed(
                "iam_refused",
                status=status,
                error_code=err.error_code,
                error_msg=err.error_msg,
                request_id=request_id,
            ).scrub(self.secrets())
        if status not in (200, 201):
            raise error_for_status(
                status,
                answer.body[:4096],
                request_id=request_id,
            ).scrub(self.secrets())
        token = answer.headers.get("X-Subject-Token")
        expires = self._clock() + 3600.0  # conservative if IAM omits expires_at
        try:
            data: Any = parse_json(answer.body)
            raw = data["token"]["expires_at"]
            expires = datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            pass
        if not token:
            raise UpstreamInvalidResponse(
                "iam_no_token",
                status=status,
                request_id=request_id,
            )
        return token, expires

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Content-Type"] = "application/json"
        r.headers["X-Auth-Token"] = self.get_token()
        r.headers["X-Project-Id"] = self.project_id
        return r

    def __repr__(self) -> str:
        return (
            f"IamPasswordAuth(iam_endpoint={self.iam_endpoint!r}, domain={self.domain!r}, "
            f"user={self.user!r}, password='******', project_id={self.project_id!r})"
        )
