"""API tokens: knox's hashed, expiring, revocable keys; the token endpoint with HTTP Basic and
django-axes' lockout as JSON; logout; the command; the /account/tokens/ page."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from tasks.models import ApiToken, AuditEvent
from tasks.services.tokens import token_create
from tests.api_fixtures import assert_error, basic, token_client, token_for

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def _get_token(client, authorization, body=None):
    return client.post(
        TOKEN_URL,
        data=body or {},
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )


def test_basic_auth_gets_a_token_that_works(client, alice, password):
    response = _get_token(client, basic("alice", password))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry"}
    expiry = timezone.datetime.fromisoformat(body["expiry"].replace("Z", "+00:00"))
    assert timedelta(days=29) < expiry - timezone.now() <= timedelta(days=30)
    assert token_client(body["token"]).get("/api/v1/projects/").status_code == 200


def test_a_token_can_ask_for_a_shorter_life_and_a_name(client, alice, password):
    response = _get_token(client, basic("alice", password), {"expires_days": 1, "name": "ci"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=alice)
    assert token.name == "ci"
    assert token.expiry - timezone.now() <= timedelta(days=1)


@pytest.mark.parametrize(
    "body", [{"expires_days": 0}, {"expires_days": 366}, {"expires_days": "x"}, {"scope": "all"}]
)
def test_token_options_are_validated(client, alice, password, body):
    assert_error(_get_token(client, basic("alice", password), body), 400, "invalid")
    assert not ApiToken.objects.exists()


def test_the_token_is_stored_only_as_a_digest(alice):
    _instance, key = token_create(user=alice, expires_days=1)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        rows = cursor.fetchall()
    assert rows and key not in repr(rows)
    assert key[:15] in repr(rows)  # knox keeps the prefix to find the digest


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 401, "not_authenticated"),
        ("Basic bm9wZQ==", 401, "authentication_failed"),  # "nope": no colon
        ("Basic", 401, "authentication_failed"),
        ("Basic !!!", 401, "authentication_failed"),
    ],
)
def test_the_token_endpoint_refuses_bad_credentials_as_json(
    client, alice, authorization, status, code
):
    kwargs = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(TOKEN_URL, content_type="application/json", **kwargs)
    assert_error(response, status, code)


def test_a_wrong_password_is_401_and_five_lock_the_pair_out_as_json(client, alice, password):
    for _ in range(4):
        response = _get_token(client, basic("alice", "wrong"))
        assert_error(response, 401, "authentication_failed")
        assert response["WWW-Authenticate"].startswith("Basic")
    response = _get_token(client, basic("alice", "wrong"))
    assert_error(response, 429, "locked_out")
    assert int(response["Retry-After"]) == 15 * 60
    # Even the right password is refused while locked out, still as JSON.
    assert_error(_get_token(client, basic("alice", password)), 429, "locked_out")
    assert not ApiToken.objects.exists()


def test_a_token_does_not_get_a_token(alice):
    response = token_client(token_for(alice)).post(TOKEN_URL, content_type="application/json")
    assert_error(response, 401, "not_authenticated")


def test_logout_revokes_the_token_used_and_only_it(alice):
    first, second = token_for(alice), token_for(alice)
    assert token_client(first).post("/api/v1/auth/logout/").status_code == 204
    assert_error(token_client(first).get("/api/v1/projects/"), 401, "authentication_failed")
    assert token_client(second).get("/api/v1/projects/").status_code == 200


def test_logout_needs_a_token(client, alice):
    client.force_login(alice)
    assert_error(client.post("/api/v1/auth/logout/"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token a b",
        "Token " + "0" * 64,
        "Token short",
        "Token \u00e9\u00e9\u00e9",
        "Token " + "x" * 5000,
    ],
)
def test_malformed_or_unknown_tokens_are_401(alice, header):
    token_for(alice)
    response = token_client(None).get("/api/v1/projects/", HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "authentication_failed")


def test_non_utf8_token_bytes_are_401_not_500(alice):
    from rest_framework.test import APIRequestFactory

    from tasks.api.views import ProjectListView

    request = APIRequestFactory().get("/api/v1/projects/")
    request.META["HTTP_AUTHORIZATION"] = "Token \xff\xfe"  # latin-1 str from WSGI, invalid UTF-8
    response = ProjectListView.as_view()(request)
    assert response.status_code == 401
    assert response.data["error"]["code"] == "authentication_failed"


def test_an_expired_token_is_401_and_deleted(alice):
    instance, key = token_create(user=alice, expires_days=1)
    ApiToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert_error(token_client(key).get("/api/v1/projects/"), 401, "authentication_failed")
    assert not ApiToken.objects.filter(pk=instance.pk).exists()


def test_an_inactive_users_token_is_401(alice):
    key = token_for(alice)
    alice.is_active = False
    alice.save()
    assert_error(token_client(key).get("/api/v1/projects/"), 401, "authentication_failed")


def test_last_used_is_recorded_at_most_once_a_minute(alice):
    instance, key = token_create(user=alice, expires_days=1)
    assert instance.last_used_at is None
    client = token_client(key)
    client.get("/api/v1/projects/")
    first = ApiToken.objects.get(pk=instance.pk).last_used_at
    assert first is not None
    client.get("/api/v1/projects/")
    assert ApiToken.objects.get(pk=instance.pk).last_used_at == first


def test_session_auth_works_and_needs_csrf_for_writes(alice, superuser):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    assert client.get("/api/v1/projects/").status_code == 200
    response = client.post("/api/v1/projects/", data={}, content_type="application/json")
    assert_error(response, 403, "permission_denied")  # CSRF


def test_the_api_rate_is_per_user(alice, bob, settings):
    settings.PORTAL_API_RATE = "2/min"
    client = token_client(token_for(alice))
    assert client.get("/api/v1/projects/").status_code == 200
    assert client.get("/api/v1/projects/").status_code == 200
    response = client.get("/api/v1/projects/")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert token_client(token_for(bob)).get("/api/v1/projects/").status_code == 200


# ---- the command ---------------------------------------------------------------------------------


def test_the_command_prints_a_working_token(alice):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "alice", "--expires-days", "3", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert len(key) == 64
    assert "Expires" in err.getvalue()
    token = ApiToken.objects.get(user=alice)
    assert timedelta(days=2) < token.expiry - timezone.now() <= timedelta(days=3)
    assert token_client(key).get("/api/v1/projects/").status_code == 200


@pytest.mark.parametrize("args", [["nobody"], ["alice", "--expires-days", "0"]])
def test_the_command_refuses_bad_input(alice, args):
    with pytest.raises(CommandError):
        call_command("create_api_token", *args, stdout=StringIO(), stderr=StringIO())


# ---- the page ------------------------------------------------------------------------------------


def test_the_page_needs_a_login(client):
    assert client.get("/account/tokens/").status_code == 302


def test_the_page_creates_a_token_shown_once(client, alice):
    client.force_login(alice)
    response = client.post("/account/tokens/", {"name": "export", "expires_days": "7"})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key and key in response.content.decode()
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    token = ApiToken.objects.get(user=alice)
    assert token.name == "export"
    assert timedelta(days=6) < token.expiry - timezone.now() <= timedelta(days=7)
    assert token_client(key).get("/api/v1/projects/").status_code == 200
    # Listed afterwards by prefix, never in full.
    page = client.get("/account/tokens/").content.decode()
    assert key not in page and key[:8] in page and "export" in page
    assert AuditEvent.objects.filter(action="api_token.created", actor=alice).exists()


def test_the_page_refuses_an_expiry_not_offered(client, alice):
    client.force_login(alice)
    response = client.post("/account/tokens/", {"expires_days": "9999"})
    assert response.status_code == 200 and response.context["new_key"] is None
    assert not ApiToken.objects.exists()


def test_the_page_lists_last_used_and_revokes(client, alice):
    instance, key = token_create(user=alice, expires_days=1, name="script")
    token_client(key).get("/api/v1/projects/")
    client.force_login(alice)
    page = client.get("/account/tokens/")
    listed = list(page.context["tokens"])
    assert [t.pk for t in listed] == [instance.pk] and listed[0].last_used_at
    # Revoking has its own URL (no hidden "action" field), and only by POST.
    assert 'name="action"' not in page.content.decode()
    assert f'action="/account/tokens/{instance.digest}/revoke/"' in page.content.decode()
    assert client.get(f"/account/tokens/{instance.digest}/revoke/").status_code == 405
    response = client.post(f"/account/tokens/{instance.digest}/revoke/")
    assert response.status_code == 302
    assert_error(token_client(key).get("/api/v1/projects/"), 401, "authentication_failed")


def test_nobody_revokes_another_users_token(client, alice, bob):
    instance, key = token_create(user=alice, expires_days=1)
    client.force_login(bob)
    response = client.post(f"/account/tokens/{instance.digest}/revoke/")
    assert response.status_code == 404
    assert token_client(key).get("/api/v1/projects/").status_code == 200
    assert instance.digest not in client.get("/account/tokens/").content.decode()
