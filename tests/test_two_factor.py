"""Two-factor login (TOTP with recovery codes) and ending every sign-in: enrol with a real code,
sign in through the code page, API tokens only after the second factor, PORTAL_REQUIRE_2FA, and
a password change or "sign out everywhere" ending every session and API token (issue 18: 15)."""

import base64
import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django_otp.oath import TOTP

from tasks.models import ApiToken, AuditEvent, Membership, Role
from tests.api_fixtures import assert_error, basic, token_client, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    # django-otp waits 1 s, 2 s, 4 s … after each wrong code; the tests try a right one next.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def code_for(secret: str, offset: int = 0) -> str:
    """The code an authenticator app shows for the base32 `secret` (django-otp's own TOTP)."""
    totp = TOTP(base64.b32decode(secret))
    totp.time = time.time() + offset
    return f"{totp.token():06d}"


def sign_in(client: Client, username: str, password: str, follow: bool = False):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, follow=follow
    )


def enrol(client: Client) -> tuple[str, list[str]]:
    """Turns two-factor login on from the page, with a real code: (secret, recovery codes)."""
    page = client.get("/account/two-factor/").content.decode()
    found = re.search(r'id="totp-secret">([A-Z2-7=]+)<', page)
    assert found is not None, page
    secret = found.group(1)
    response = client.post("/account/two-factor/", {"action": "enable", "code": code_for(secret)})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="recovery-codes"' in html
    codes = re.findall(r"<li>([a-z0-9]{8})</li>", html.split('id="recovery-codes"')[1])
    assert len(codes) == 10
    return secret, codes


@pytest.fixture
def enrolled(client, alice, password):
    """alice with two-factor login on: (secret, recovery codes); `client` signed out."""
    assert sign_in(client, "alice", password).status_code == 302
    secret, codes = enrol(client)
    client.post("/accounts/logout/")
    # The next test code must differ from the one just used (a TOTP code works once).
    return secret, codes


def test_enrolling_shows_a_qr_code_and_the_key_then_turns_it_on_with_a_real_code(
    client, alice, password
):
    sign_in(client, "alice", password)
    page = client.get("/account/two-factor/")
    html = page.content.decode()
    assert 'src="data:image/svg+xml' in html and 'id="totp-secret"' in html
    assert "no-cache" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    secret = re.search(r'id="totp-secret">([A-Z2-7=]+)<', html).group(1)
    wrong = client.post("/account/two-factor/", {"action": "enable", "code": "000000"})
    assert "That code is not right" in wrong.content.decode() or code_for(secret) == "000000"
    response = client.post("/account/two-factor/", {"action": "enable", "code": code_for(secret)})
    assert 'id="recovery-codes"' in response.content.decode()
    assert 'id="two-factor-status"' in client.get("/account/two-factor/").content.decode()
    assert AuditEvent.objects.filter(action="two_factor.enabled", actor=alice).exists()


def test_signing_in_asks_for_the_code_before_anything_else(client, alice, password, enrolled):
    secret, _codes = enrolled
    response = sign_in(client, "alice", password)
    assert response.status_code == 302
    # Every page but the code page sends the half-signed-in session to the code page.
    page = client.get("/projects/")
    assert page.status_code == 302 and page["Location"].startswith("/account/two-factor/verify/")
    assert client.get("/account/tokens/").status_code == 302
    api = client.get("/api/v1/projects/")
    assert_error(api, 403, "otp_required")
    wrong = client.post("/account/two-factor/verify/", {"code": "12345x", "next": "/projects/"})
    assert "That code is not right" in wrong.content.decode()
    ok = client.post(
        "/account/two-factor/verify/", {"code": code_for(secret, 30), "next": "/projects/"}
    )
    assert ok.status_code == 302 and ok["Location"] == "/projects/"
    assert client.get("/projects/").status_code == 200
    assert client.get("/api/v1/projects/").status_code == 200


def test_a_recovery_code_signs_in_once(client, alice, password, enrolled):
    _secret, codes = enrolled
    sign_in(client, "alice", password)
    ok = client.post("/account/two-factor/verify/", {"code": codes[0]})
    assert ok.status_code == 302
    assert client.get("/projects/").status_code == 200
    client.post("/accounts/logout/")
    sign_in(client, "alice", password)
    again = client.post("/account/two-factor/verify/", {"code": codes[0]})
    assert again.status_code == 200  # used up
    assert client.get("/projects/").status_code == 302


def test_the_code_page_never_redirects_off_site(client, alice, password, enrolled):
    secret, _codes = enrolled
    sign_in(client, "alice", password)
    response = client.post(
        "/account/two-factor/verify/",
        {"code": code_for(secret, 30), "next": "https://evil.example.com/"},
    )
    assert response["Location"] == "/"


def test_a_token_by_basic_auth_needs_the_code_of_a_user_with_two_factor_login(
    alice, password, enrolled
):
    secret, codes = enrolled
    client = Client()
    url = "/api/v1/auth/token/"
    auth = {"HTTP_AUTHORIZATION": basic("alice", password)}
    assert_error(client.post(url, **auth), 401, "otp_required")
    bad = client.post(url, {"otp": "000001"}, content_type="application/json", **auth)
    assert_error(bad, 401, "otp_invalid")
    ok = client.post(url, {"otp": codes[1]}, content_type="application/json", **auth)
    assert ok.status_code == 200 and ok.json()["token"]
    # A token request signs no session in (django-axes makes an empty one to log the attempt).
    assert not [s for s in Session.objects.all() if "_auth_user_id" in s.get_decoded()]


def test_wrong_codes_are_throttled(client, settings, alice, password, enrolled):
    settings.OTP_TOTP_THROTTLE_FACTOR = 10
    secret, _codes = enrolled
    sign_in(client, "alice", password)
    client.post("/account/two-factor/verify/", {"code": "000000"})
    # Right now, even the right code is refused: guessing a million codes takes forever.
    refused = client.post("/account/two-factor/verify/", {"code": code_for(secret, 30)})
    assert refused.status_code == 200
    assert client.get("/projects/").status_code == 302


def test_a_session_that_has_not_passed_the_code_cannot_create_a_token(
    client, alice, password, enrolled
):
    sign_in(client, "alice", password)
    response = client.post("/account/tokens/", {"action": "create", "expires_days": "1"})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=alice).exists()


def test_required_two_factor_sends_staff_and_project_admins_to_enrol(
    client, settings, alice, bob, project, password
):
    settings.PORTAL_REQUIRE_2FA = True
    sign_in(client, "alice", password)  # a project admin
    page = client.get("/projects/")
    assert page.status_code == 302 and page["Location"].startswith("/account/two-factor/")
    assert "needs two-factor login" in client.get("/account/two-factor/").content.decode()
    response = Client().post("/api/v1/auth/token/", HTTP_AUTHORIZATION=basic("alice", password))
    assert_error(response, 401, "otp_required")
    enrol(client)
    assert client.get("/projects/").status_code == 200
    # A viewer only is not obliged.
    other = Client()
    sign_in(other, "bob", password)
    assert Membership.objects.get(user=bob, project=project).role == Role.VIEWER
    assert other.get("/projects/").status_code == 200


def test_turning_two_factor_on_ends_the_other_sessions_and_tokens(client, alice, password):
    other = Client()
    sign_in(other, "alice", password)
    key = token_for(alice)
    sign_in(client, "alice", password)
    enrol(client)
    assert other.get("/projects/").status_code == 302
    assert token_client(key).get("/api/v1/projects/").status_code == 401
    assert client.get("/projects/").status_code == 200


# ---- 15: a password change and "sign out everywhere" end every session and token ---------------


def test_a_password_change_ends_every_other_session_and_every_api_token(client, alice, password):
    elsewhere = Client()
    sign_in(elsewhere, "alice", password)
    keys = [token_for(alice), token_for(alice)]
    sign_in(client, "alice", password)
    new = "another correct horse battery 7"
    response = client.post(
        "/accounts/password_change/",
        {"old_password": password, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302, response.content[:300]
    assert client.get("/projects/").status_code == 200  # the session it was changed in
    assert elsewhere.get("/projects/").status_code == 302
    for key in keys:
        assert_error(token_client(key).get("/api/v1/projects/"), 401, "authentication_failed")
    event = AuditEvent.objects.filter(action="account.signed_out_everywhere").latest("id")
    assert event.details["reason"] == "password_changed" and event.details["api_tokens"] == 2


def test_a_password_set_anywhere_else_ends_the_tokens_too(alice):
    key = token_for(alice)
    alice.set_password("set by an admin 12345")
    alice.save()
    assert token_client(key).get("/api/v1/projects/").status_code == 401


def test_rehashing_the_same_password_signs_nobody_out(alice, password):
    key = token_for(alice)
    alice.set_password(password)  # what Django does on login after a hasher upgrade
    alice.save(update_fields=["password"])
    assert token_client(key).get("/api/v1/projects/").status_code == 200


def test_sign_out_everywhere_ends_every_session_and_token(client, alice, password):
    elsewhere = Client()
    sign_in(elsewhere, "alice", password)
    key = token_for(alice)
    sign_in(client, "alice", password)
    response = client.post("/account/sign-out-everywhere/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    for session in (client, elsewhere):
        assert session.get("/projects/").status_code == 302
    assert token_client(key).get("/api/v1/projects/").status_code == 401
    assert not ApiToken.objects.filter(user=alice).exists()
