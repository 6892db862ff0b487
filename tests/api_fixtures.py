"""API test helpers: a client per member of the cast, authenticated with a real knox token.

Roles: the lead's cast (superuser, admin = alice, viewer = bob, outsider = charlie, anonymous)
plus alice's expired and revoked tokens.
"""

import base64
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tasks.models import ApiToken
from tasks.services.tokens import token_create, token_revoke
from tests.conftest import SECRETS

ROLES = ["superuser", "admin", "viewer", "outsider", "anonymous", "expired", "revoked"]
#: Roles that are refused before any project lookup.
UNAUTHENTICATED = {"anonymous": 401, "expired": 401, "revoked": 401}

#: Plaintexts that must never appear in an API answer.
SECRET_VALUES = [
    *SECRETS.values(),
    "sim-webhook-secret-value",
    "sim-api-key-value",
    # The simulator's VIAS seed secrets (vassim/seed/vias_tasks.json).
    "sim-vias-webhook-secret-7731",
    "sim-vcn-password-4419",
    "sim-input-token-3310",
    "sim-vias-apikey-9902",  # a header in the [{"name", "value"}] form
    "sim-query-secret-55",  # a secret-looking query parameter of a webhook URL
]


def token_for(user) -> str:
    return token_create(user=user, expires_days=1)[1]


def token_client(key: str | None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if key:
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def api(cast):
    """api(role) -> a Client sending that role's token (none for anonymous)."""

    def make(role: str) -> Client:
        if role == "anonymous":
            return token_client(None)
        if role in ("expired", "revoked"):
            instance, key = token_create(user=cast["admin"], expires_days=1)
            if role == "expired":
                ApiToken.objects.filter(pk=instance.pk).update(
                    expiry=timezone.now() - timedelta(seconds=1)
                )
            else:
                token_revoke(user=cast["admin"], token=instance)
            return token_client(key)
        return token_client(token_for(cast[role]))

    return make


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The contract's error shape, with the expected status and code."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def assert_no_secrets(response, extra: tuple[str, ...] = ()) -> None:
    text = response.content.decode("utf-8", errors="replace")
    for value in (*SECRET_VALUES, *extra):
        assert value not in text, f"secret {value[:6]}… in {response.request['PATH_INFO']}"
