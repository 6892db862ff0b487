"""Authentication for VAS calls: AK/SK signing (SDK-HMAC-SHA256), static and IAM tokens.

The signer mirrors ``huaweicloudsdkcore.signer.signer.Signer`` byte for byte (VAS-API.md §6.1);
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

from .errors import (
    UpstreamAuthFailed,
    UpstreamInvalidResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_for_status,
)

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DEFAULT_USER_AGENT = "vas-task-portal/0.1"

# requests adds these after the auth hook in the SDK's flow, so the SDK never signs them; proxies
# may also rewrite them. Signing them would make signatures fragile for no gain.
UNSIGNED_HEADERS = frozenset({"accept", "accept-encoding", "connection", "content-length"})

#: Refresh an IAM token this long before it expires.
TOKEN_REFRESH_MARGIN = 300.0


def _encode(value: str) -> str:
    # Same as the SDK: percent-encode everything but unreserved characters and "~".
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Decode then re-encode each path segment; always end with "/" (VAS-API.md §6.1 step 3)."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    if not encoded.endswith("/"):
        encoded += "/"
    return encoded


def canonical_query(query: str) -> str:
    """Sorted, re-encoded ``k=v`` pairs joined with "&" (VAS-API.md §6.1 step 4)."""
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
    """

    def __init__(
        self,
        *,
        iam_endpoint: str,
        domain: str,
        user: str,
        password: str,
        project_id: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (3, 10),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.iam_endpoint = iam_endpoint.rstrip("/")
        self.domain = domain
        self.user = user
        self._password = password
        self.project_id = project_id
        self._session = session or requests.Session()
        self.timeout = timeout
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
            resp = self._session.post(
                url,
                json=body,
                headers={"Content-Type": "application/json;charset=utf8"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise UpstreamTimeout("iam") from None
        except requests.RequestException:
            raise UpstreamUnavailable("iam_unreachable") from None
        request_id = resp.headers.get("X-Request-Id")
        if resp.status_code in (400, 401, 403):
            err = error_for_status(resp.status_code, resp.content[:4096], request_id=request_id)
            raise UpstreamAuthFailed(
                "iam_refused",
                status=resp.status_code,
                error_code=err.error_code,
                error_msg=err.error_msg,
                request_id=request_id,
            ).scrub(self.secrets())
        if resp.status_code not in (200, 201):
            raise error_for_status(
                resp.status_code,
                resp.content[:4096],
                request_id=request_id,
            ).scrub(self.secrets())
        token = resp.headers.get("X-Subject-Token")
        expires = self._clock() + 3600.0  # conservative if IAM omits expires_at
        try:
            data: Any = resp.json()
            raw = data["token"]["expires_at"]
            expires = datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
        except (ValueError, KeyError, TypeError):
            pass
        if not token:
            raise UpstreamInvalidResponse(
                "iam_no_token",
                status=resp.status_code,
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
