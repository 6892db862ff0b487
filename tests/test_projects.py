"""Projects and their credentials: pages by role, write-only encrypted secrets, audit, rotation."""

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from tasks.models import AuditEvent, CloudProject, Membership, Role
from tasks.services.members import member_remove, member_set_role
from tasks.services.projects import project_update
from tests.conftest import SECRETS

pytestmark = pytest.mark.django_db

# (role, expected status) for each page; anonymous users are sent to the login page.
PAGE_ACCESS = {
    "detail": {"superuser": 200, "admin": 200, "viewer": 200, "outsider": 404, "anonymous": 302},
    "edit": {"superuser": 200, "admin": 200, "viewer": 403, "outsider": 404, "anonymous": 302},
    "members": {"superuser": 200, "admin": 200, "viewer": 403, "outsider": 404, "anonymous": 302},
}


def _login(client, user):
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("page", PAGE_ACCESS)
@pytest.mark.parametrize("role", ["superuser", "admin", "viewer", "outsider", "anonymous"])
def test_it_serves_each_page_by_role(client, cast, project, page, role):
    url = f"/projects/{project.public_id}/" + ("" if page == "detail" else f"{page}/")
    response = _login(client, cast[role]).get(url)
    assert response.status_code == PAGE_ACCESS[page][role]
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")


def test_it_lists_only_the_users_projects(client, project, charlie, bob):
    assert "Lobby cameras" not in _login(client, charlie).get("/projects/").content.decode()
    client.logout()
    assert "Lobby cameras" in _login(client, bob).get("/projects/").content.decode()


def test_an_unknown_project_id_is_404(client, alice):
    assert _login(client, alice).get("/projects/not-a-uuid/").status_code == 404
    response = client.get("/projects/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


def test_only_staff_or_permitted_users_create_projects(client, alice, superuser):
    assert _login(client, alice).get("/projects/new/").status_code == 403
    client.logout()
    assert _login(client, superuser).get("/projects/new/").status_code == 200


def _create_form(**overrides):
    data = {
        "name": "Gate",
        "region": "cn-north-4",
        "upstream_project_id": "0123456789abcdef0123456789abcdef",
        "default_service": "c-face-edge",
        "cache_ttl": "30",
        "auth_type": "aksk",
        "access_key": SECRETS["access_key"],
        "secret_key": SECRETS["secret_key"],
    }
    data.update(overrides)
    return data


def test_the_creator_becomes_admin_and_endpoints_default_from_the_region(client, superuser):
    response = _login(client, superuser).post("/projects/new/", _create_form(region="cn-east-3"))
    assert response.status_code == 302
    project = CloudProject.objects.get(name="Gate")
    assert project.endpoint == "https://iva.cn-east-3.myhuaweicloud.com"
    assert project.iam_endpoint == "https://iam.cn-east-3.myhuaweicloud.com"
    assert Membership.objects.get(project=project, user=superuser).role == Role.ADMIN
    assert AuditEvent.objects.filter(project=project, action="project.created").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"upstream_project_id": "not valid!"}, "upstream_project_id"),
        ({"region": "mars-1"}, "region"),
        ({"endpoint": "http://169.254.169.254/"}, "endpoint"),
        ({"endpoint": "https://evil.example.com"}, "endpoint"),
        ({"secret_key": ""}, "secret_key"),
        ({"auth_type": "password"}, "iam_password"),
        ({"auth_type": "token"}, "token"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Lobby cameras"}, "name"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(client, superuser, project, overrides, field):
    before = (CloudProject.objects.count(), AuditEvent.objects.count())
    response = _login(client, superuser).post("/projects/new/", _create_form(**overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert (CloudProject.objects.count(), AuditEvent.objects.count()) == before


def test_secrets_never_appear_in_any_page(client, superuser, project):
    _login(client, superuser)
    pages = [
        "/projects/",
        f"/projects/{project.public_id}/",
        f"/projects/{project.public_id}/edit/",
        f"/projects/{project.public_id}/members/",
        f"/admin/tasks/cloudproject/{project.pk}/change/",
        "/admin/tasks/cloudproject/",
        "/admin/tasks/auditevent/",
    ]
    for url in pages:
        body = client.get(url).content.decode()
        for secret in SECRETS.values():
            assert secret not in body, (url, secret)
    detail = client.get(f"/projects/{project.public_id}/").content.decode()
    assert "AK ••••ABCD12"[-7:] not in detail or "••••CD12" in detail
    assert "••••CD12" in detail


def test_secrets_are_not_in_the_database_in_plaintext(project):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_key_enc, secret_key_enc, security_token_enc FROM tasks_cloudproject"
        )
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    for secret in SECRETS.values():
        assert secret not in stored
    assert project.credentials() == SECRETS
    assert "SKplaintext" not in repr(project)


@pytest.mark.django_db(transaction=True)
def test_the_sqlite_file_holds_no_plaintext(alice):
    if connection.vendor != "sqlite":
        pytest.skip("the PostgreSQL columns are checked above")
    from tasks.services.projects import project_create

    project_create(
        actor=alice,
        fields={"name": "On disk", "upstream_project_id": "abc", "auth_type": "aksk"},
        secrets=SECRETS,
    )
    raw = Path(connection.settings_dict["NAME"]).read_bytes()
    assert b"On disk" in raw  # the row is in the file
    for secret in SECRETS.values():
        assert secret.encode() not in raw


def test_a_blank_secret_keeps_the_stored_one_and_clear_removes_it(client, alice, project):
    version = project.credentials_version
    form = _create_form(
        name="Lobby cameras",
        upstream_project_id=project.upstream_project_id,
        access_key="",
        secret_key="",
        security_token="",
    )
    response = _login(client, alice).post(f"/projects/{project.public_id}/edit/", form)
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.credentials() == SECRETS
    assert project.credentials_version == version

    form["clear_security_token"] = "on"
    client.post(f"/projects/{project.public_id}/edit/", form)
    project.refresh_from_db()
    assert "security_token" not in project.credentials()
    assert project.credentials_version == version + 1
    event = AuditEvent.objects.filter(action="credentials.replaced").latest("id")
    assert event.details == {"secrets": {"security_token": "cleared"}}


def test_changing_who_the_portal_is_upstream_bumps_the_credentials_version(alice, project):
    version = project.credentials_version
    project_update(actor=alice, project=project, fields={"description": "lobby"})
    assert project.credentials_version == version
    # The credentials come again with the change (issue 18: they never follow it on their own).
    project_update(
        actor=alice,
        project=project,
        fields={"upstream_project_id": "other-project"},
        secrets=SECRETS,
    )
    assert project.credentials_version == version + 1


def test_replacing_a_secret_is_audited_without_its_value(alice, project):
    project_update(
        actor=alice, project=project, fields={}, secrets={"secret_key": "NEWsecret-value-1"}
    )
    event = AuditEvent.objects.filter(action="credentials.replaced").latest("id")
    assert event.details == {"secrets": {"secret_key": "changed"}}
    assert "NEWsecret" not in str(AuditEvent.objects.values_list("details", flat=True))


def test_switching_auth_type_needs_the_new_credentials(client, alice, project):
    form = _create_form(
        name="Lobby cameras", auth_type="password", iam_domain="acme", iam_user="ops"
    )
    response = _login(client, alice).post(f"/projects/{project.public_id}/edit/", form)
    assert response.status_code == 200
    assert "iam_password" in response.context["form"].errors
    project.refresh_from_db()
    assert project.auth_type == "aksk" and project.credentials() == SECRETS


def test_the_last_admin_cannot_be_removed_or_demoted(alice, project):
    from django.core.exceptions import ValidationError

    admin = Membership.objects.get(project=project, user=alice)
    with pytest.raises(ValidationError):
        member_remove(actor=alice, membership=admin)
    with pytest.raises(ValidationError):
        member_set_role(actor=alice, membership=admin, role=Role.VIEWER)
    assert Membership.objects.get(pk=admin.pk).role == Role.ADMIN


def test_admins_manage_members_through_the_page(client, alice, charlie, project):
    url = f"/projects/{project.public_id}/members/"
    page = _login(client, alice).get(url).content.decode()
    # One URL per action, named by the form that posts to it: no hidden "action" field.
    assert 'name="action"' not in page
    assert f'action="{url}add/"' in page and f'action="{url}alice/role/"' in page
    response = client.post(url + "add/", {"username": "charlie", "role": "viewer"})
    assert response.status_code == 302 and response["Location"] == url
    assert Membership.objects.get(project=project, user=charlie).role == Role.VIEWER
    assert client.post(url + "charlie/role/", {"role": "admin"})["Location"] == url
    assert Membership.objects.get(project=project, user=charlie).role == Role.ADMIN
    assert client.post(url + "charlie/remove/")["Location"] == url
    assert not Membership.objects.filter(project=project, user=charlie).exists()
    actions = list(AuditEvent.objects.filter(project=project).values_list("action", flat=True))
    assert {"member.added", "member.role_changed", "member.removed"} <= set(actions)
    response = client.post(url + "add/", {"username": "nobody", "role": "viewer"})
    assert "username" in response.context["form"].errors
    assert client.post(url + "nobody/remove/").status_code == 404
    assert client.get(url + "add/").status_code == 405


def test_the_last_admin_is_kept_through_the_page_with_a_message(client, alice, project):
    url = f"/projects/{project.public_id}/members/"
    response = _login(client, alice).post(url + "alice/remove/", follow=True)
    assert Membership.objects.get(project=project, user=alice).role == Role.ADMIN
    assert "The last admin of a project cannot be removed." in response.content.decode()


def test_a_viewer_cannot_post_admin_actions(client, bob, charlie, project):
    url = f"/projects/{project.public_id}/members/"
    response = _login(client, bob).post(url + "add/", {"username": "charlie", "role": "admin"})
    assert response.status_code == 403
    assert client.post(url + "alice/remove/").status_code == 403
    assert client.post(url + "alice/role/", {"role": "viewer"}).status_code == 403
    assert not Membership.objects.filter(user=charlie).exists()
    assert client.post(f"/projects/{project.public_id}/delete/").status_code == 403


def test_an_outsider_finds_no_member_urls(client, charlie, project):
    url = f"/projects/{project.public_id}/members/"
    _login(client, charlie)
    for action, data in (("add/", {"username": "charlie", "role": "admin"}), ("alice/remove/", {})):
        assert client.post(url + action, data).status_code == 404
    assert client.post(url + "alice/role/", {"role": "viewer"}).status_code == 404
    assert not Membership.objects.filter(user=charlie).exists()
    assert Membership.objects.get(project=project, user__username="alice").role == Role.ADMIN


def test_rotation_moves_every_row_to_the_new_key(settings, project, capsys):
    old_keys = list(settings.PORTAL_CREDENTIALS_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.PORTAL_CREDENTIALS_KEYS = [new_key, *old_keys]
    call_command("rotate_credentials_key")
    out = capsys.readouterr().out
    assert "projects using key #2 (older): 0" in out
    settings.PORTAL_CREDENTIALS_KEYS = [new_key]
    project.refresh_from_db()
    assert project.credentials() == SECRETS


def test_an_unknown_key_fails_closed_naming_the_project(client, settings, alice, project):
    from tasks.errors import CredentialsUnavailable, error_text

    settings.PORTAL_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    project.refresh_from_db()
    with pytest.raises(CredentialsUnavailable) as caught:
        project.credentials()
    assert "Lobby cameras" in error_text(caught.value)
    assert project.secret_key_enc not in error_text(caught.value)
    assert project.secret_key_enc not in str(caught.value)
    # Unrelated pages still work.
    assert _login(client, alice).get("/projects/").status_code == 200
    assert client.get(f"/projects/{project.public_id}/").status_code == 200


@pytest.mark.parametrize("field", ["access_key", "security_token"])
def test_a_secret_that_cannot_travel_in_a_header_is_refused_without_echoing_it(
    client, alice, project, field
):
    form = _create_form(name="Lobby cameras", upstream_project_id=project.upstream_project_id)
    form[field] = "FIRSTHALF\nSECONDHALF"
    response = _login(client, alice).post(f"/projects/{project.public_id}/edit/", form)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert "SECONDHALF" not in response.content.decode()
    project.refresh_from_db()
    assert project.credentials() == SECRETS
