"""Endpoint validation (allow list, schemes, shapes) and the DNS address guard."""

from __future__ import annotations

import pytest
import responses

from tasks.errors import http_status
from tasks.vas import (
    REGIONS,
    AkSkAuth,
    EndpointNotAllowed,
    VasClient,
    default_iam_endpoint,
    default_vas_endpoint,
    is_loopback_host,
    validate_endpoint,
)
from tests.helpers import resolve_to

ALLOWED = [".myhuaweicloud.com", "127.0.0.1", "localhost", "::1"]


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://iva.cn-north-4.myhuaweicloud.com", "https://iva.cn-north-4.myhuaweicloud.com"),
        ("https://iva.cn-north-4.myhuaweicloud.com/", "https://iva.cn-north-4.myhuaweicloud.com"),
        ("HTTPS://IVA.cn-north-4.MyHuaweiCloud.com", "https://iva.cn-north-4.myhuaweicloud.com"),
        (
            "https://iva.cn-north-4.myhuaweicloud.com:443",
            "https://iva.cn-north-4.myhuaweicloud.com:443",
        ),
        ("http://127.0.0.1:8900", "http://127.0.0.1:8900"),
        ("http://localhost:8900/", "http://localhost:8900"),
        ("https://127.0.0.1:8900", "https://127.0.0.1:8900"),
        ("http://[::1]:8900", "http://[::1]:8900"),
    ],
)
def test_it_accepts_allowed_endpoints(url, normalised):
    assert validate_endpoint(url, ALLOWED) == normalised


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "https://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "ftp://iva.cn-north-4.myhuaweicloud.com",
        "http://iva.cn-north-4.myhuaweicloud.com",
        "https://evilmyhuaweicloud.com",
        "https://myhuaweicloud.com.evil.com",
        "https://example.com",
        "https://user:pw@iva.cn-north-4.myhuaweicloud.com",
        "https://iva.cn-north-4.myhuaweicloud.com@evil.com",
        "https://iva.cn-north-4.myhuaweicloud.com/v2",
        "https://iva.cn-north-4.myhuaweicloud.com?x=1",
        "https://iva.cn-north-4.myhuaweicloud.com#frag",
        "https://iva.cn-north-4.myhuaweicloud.com:99999",
        "https://iva.cn-north-4.myhuaweicloud.com:0",
        "https://iva.cn-north-4.myhuaweicloud.com:abc",
        "https://iva.cn-north-4.myhuaweicloud.com:",
        "http://127.0.0.2:8900",
        "https://",
        "",
        "not a url",
        "https://iva.cn-north-4.myhuaweicloud.com\\@evil.com",
        "https://iva.cn-north-4.myhuaweicloud.com\n.evil.com",
    ],
)
def test_it_rejects_bad_endpoints(url):
    with pytest.raises(ValueError):
        validate_endpoint(url, ALLOWED)


def test_loopback_is_refused_unless_listed_exactly():
    with pytest.raises(ValueError):
        validate_endpoint("http://127.0.0.1:8900", [".myhuaweicloud.com"])
    with pytest.raises(ValueError):
        validate_endpoint("https://localhost", [".myhuaweicloud.com"])


def test_it_knows_loopback_hosts():
    assert is_loopback_host("localhost") and is_loopback_host("127.0.0.1")
    assert is_loopback_host("::1") and is_loopback_host("[::1]")
    assert not is_loopback_host("10.0.0.1") and not is_loopback_host("example.com")


def test_it_knows_the_regions_and_default_endpoints():
    assert len(REGIONS) == 8 and "cn-north-4" in REGIONS and "ap-southeast-3" in REGIONS
    assert default_vas_endpoint("cn-north-4") == "https://iva.cn-north-4.myhuaweicloud.com"
    assert default_iam_endpoint("cn-east-3") == "https://iam.cn-east-3.myhuaweicloud.com"


def _client(endpoint: str, allowed: list[str]) -> VasClient:
    return VasClient(
        endpoint=endpoint,
        project_id="p1",
        auth=AkSkAuth("AKAKAKAKAKAK", "SKSKSKSKSKSK"),
        allowed_hosts=allowed,
    )


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "169.254.169.254", "192.168.0.1", "127.0.0.1", "::1", "fd00::1", "0.0.0.0"],
)
def test_the_dns_guard_refuses_allowed_names_resolving_to_private_addresses(monkeypatch, address):
    resolve_to(monkeypatch, address)
    client = _client("https://iva.cn-north-4.myhuaweicloud.com", [".myhuaweicloud.com"])
    with pytest.raises(EndpointNotAllowed) as info:
        client.show_task("c-face-edge", "a" * 32)
    assert info.value.code == "endpoint_not_allowed" and http_status(info.value.code) == 502


@responses.activate
def test_the_dns_guard_lets_public_addresses_through(monkeypatch):
    resolve_to(monkeypatch, "121.36.0.1")
    url = "https://iva.cn-north-4.myhuaweicloud.com/v2/p1/services/c-face-edge/tasks/" + "a" * 32
    responses.get(url, json={"id": "a" * 32, "state": "RUNNING"})
    client = _client("https://iva.cn-north-4.myhuaweicloud.com", [".myhuaweicloud.com"])
    assert client.show_task("c-face-edge", "a" * 32).payload["state"] == "RUNNING"


def test_the_dns_guard_refuses_hosts_off_the_list(monkeypatch):
    resolve_to(monkeypatch, "121.36.0.1")
    with pytest.raises(EndpointNotAllowed):
        _client("https://example.com", [".myhuaweicloud.com"]).show_task("c", "a" * 32)


@pytest.mark.parametrize("url", ["https://169.254.169.254", "https://[fd00:ec2::254]"])
def test_a_metadata_address_is_refused_even_when_listed(url):
    host = url.split("//", 1)[1].strip("[]")
    with pytest.raises(ValueError) as info:
        validate_endpoint(url, [host])
    assert "never calls" in str(info.value)


def test_a_listed_private_literal_is_accepted():
    assert validate_endpoint("https://10.0.0.5", ["10.0.0.5"]) == "https://10.0.0.5"
