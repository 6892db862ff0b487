"""Validation of user-supplied VAS/IAM endpoints, and the regions' default endpoints.

This is the check made when an endpoint is *saved* (forms, API, admin); the address guard in
``transport.py`` checks again at every connection, whatever saved the address.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .transport import (
    LOOPBACK_NAMES,
    AddressPolicy,
    host_allowed,
    is_loopback_host,
    listed_exactly,
)


def gettext_noop(message: str) -> str:
    """Marks a text for the catalogue; the Django layer translates it (no Django here)."""
    return message


#: The eight VAS regions (docs/VAS-API.md §1) with their labels.
REGIONS: dict[str, str] = {
    "cn-north-1": gettext_noop("CN North-Beijing1"),
    "cn-north-4": gettext_noop("CN North-Beijing4"),
    "cn-east-2": gettext_noop("CN East-Shanghai2"),
    "cn-east-3": gettext_noop("CN East-Shanghai1"),
    "cn-south-1": gettext_noop("CN South-Guangzhou"),
    "ap-southeast-1": gettext_noop("AP-Hong Kong"),
    "ap-southeast-2": gettext_noop("AP-Bangkok"),
    "ap-southeast-3": gettext_noop("AP-Singapore"),
}


def default_vas_endpoint(region: str) -> str:
    """``https://iva.{region}.myhuaweicloud.com``."""
    return f"https://iva.{region}.myhuaweicloud.com"


def default_vias_endpoint(region: str) -> str:
    """``https://vias.{region}.myhuaweicloud.com`` (VAS-API.md §10)."""
    return f"https://vias.{region}.myhuaweicloud.com"


def default_iam_endpoint(region: str) -> str:
    """``https://iam.{region}.myhuaweicloud.com``."""
    return f"https://iam.{region}.myhuaweicloud.com"


def _error(template: str, **params: str) -> ValueError:
    """A ValueError whose message is ``template % params``; it keeps both, so the Django layer
    can show the message in the user's language."""
    error = ValueError(template % params)
    error.template, error.params = template, params  # type: ignore[attr-defined]
    return error


def validate_endpoint(url: str, allowed_hosts: list[str] | tuple[str, ...]) -> str:
    """Check a user-supplied endpoint and return it normalised as ``scheme://host[:port]``.

    Raises ``ValueError`` with a message fit to show the user.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError(
            gettext_noop("Enter an endpoint URL such as https://iva.cn-north-4.myhuaweicloud.com.")
        )
    url = url.strip()
    if any(ch in url for ch in "\\\r\n\t ") or any(ord(ch) < 32 for ch in url):
        raise ValueError(gettext_noop("The endpoint URL contains characters that are not allowed."))
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError:
        raise ValueError(gettext_noop("The endpoint URL has an invalid port.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise ValueError(gettext_noop("The endpoint must be an https:// URL."))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError(gettext_noop("The endpoint URL must not contain a user name or password."))
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(gettext_noop("The endpoint URL has no host name."))
    if parts.path not in ("", "/"):
        raise ValueError(
            gettext_noop("The endpoint must be just scheme://host[:port], without a path.")
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError(gettext_noop("The endpoint URL must not contain a query or a fragment."))
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(gettext_noop("The endpoint URL has an invalid port."))
    if parts.netloc.endswith(":"):
        raise ValueError(gettext_noop("The endpoint URL has an invalid port."))
    if not host_allowed(host, allowed_hosts):
        raise _error(
            gettext_noop(
                "The host %(host)s is not on the list of allowed upstream hosts "
                "(PORTAL_UPSTREAM_ALLOWED_HOSTS)."
            ),
            host=repr(host),
        )
    if not _literal_allowed(host, allowed_hosts):
        raise _error(
            gettext_noop(
                "The portal never calls %(host)s, a cloud metadata address, listed or not."
            ),
            host=host,
        )
    loopback = is_loopback_host(host)
    if loopback and not listed_exactly(host, allowed_hosts):
        raise ValueError(gettext_noop("Loopback hosts are accepted only when listed explicitly."))
    if scheme == "http" and not loopback:
        raise ValueError(
            gettext_noop("The endpoint must use https:// (plain http only for a local simulator).")
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def _literal_allowed(host: str, allowed_hosts: list[str] | tuple[str, ...]) -> bool:
    """An IP literal must be an address the connect-time guard would call; names pass here."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return AddressPolicy.from_hosts(allowed_hosts).address_allowed(host, address)


__all__ = [
    "LOOPBACK_NAMES",
    "REGIONS",
    "default_iam_endpoint",
    "default_vas_endpoint",
    "host_allowed",
    "is_loopback_host",
    "validate_endpoint",
]
