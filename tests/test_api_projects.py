"""Projects and members through the API: the services' rules, write-only secrets, bad input."""

import json

import pytest

from tasks.models import AuditEvent, CloudProject, Membership, Role
from tests.api_fixtures import assert_error, assert_no_secrets
from tests.conftest import SECRETS

pytestmark = pytest.mark.django_db

PROJECT_KEYS = {
    "id",
    "name",
    "description",
    "region",
    "upstream_project_id",
    "endpoint",
    "iam_endpoint",
    "auth_type",
    "default_service",
    "cache_ttl",
    "poll_interval",  # the monitor (second round)
    "access_key_hint",
    "has_secret_key",
    "has_security_token",
    "iam_domain",
    "iam_user",
    "has_password",
    "has_token",
    "token_expires_at",
    "last_check",
    "role",
    "created_at",
    "updated_at",
}


def _body(**overrides) -> dict:
    body = {
        "name": "Gate",
        "region": "cn-east-3",
        "upstream_project_id": "0123456789abcdef0123456789abcdef",
        "auth_type": "aksk",
        **SECRETS,
    }
    body.update(overrides)
    return body


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def test_it_shows_a_project_as_the_contract_says(api, project):
    body = api("viewer").get(f"/api/v1/projects/{project.public_id}/").json()
    assert set(body) == PROJECT_KEYS
    assert body["id"] == str(project.public_id)
    assert body["access_key_hint"] == "AK ••••CD12"
    assert body["has_secret_key"] is True and body["has_security_token"] is True
    assert body["has_password"] is False and body["has_token"] is False
    assert body["last_check"] == {"ok": None, "message": "", "checked_at": None}
    assert body["role"] == "viewer"
    assert api("superuser").get(f"/api/v1/projects/{project.public_id}/").json()["role"] == "admin"


def test_a_superuser_creates_a_project_and_becomes_its_admin(api, superuser):
    response = _post(api("superuser"), "/api/v1/projects/", _body())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "admin"
    assert body["endpoint"] == "https://iva.cn-east-3.myhuaweicloud.com"
    assert body["has_secret_key"] is True
    assert_no_secrets(response)
    project = CloudProject.objects.get(public_id=body["id"])
    assert Membership.objects.get(project=project, user=superuser).role == Role.ADMIN
    assert project.credentials()["secret_key"] == SECRETS["secret_key"]
    assert AuditEvent.objects.filter(project=project, action="project.created").exists()


def test_a_user_with_the_add_permission_creates_projects(api, alice):
    from django.contrib.auth.models import Permission

    alice.user_permissions.add(Permission.objects.get(codename="add_cloudproject"))
    assert _post(api("admin"), "/api/v1/projects/", _body()).status_code == 201


def test_the_services_validation_comes_back_by_field(api):
    response = _post(
        api("superuser"),
        "/api/v1/projects/",
        _body(endpoint="https://evil.example.com", secret_key=""),
    )
    error = assert_error(response, 400, "invalid")
    assert set(error["details"]) >= {"endpoint", "secret_key"}
    assert_no_secrets(response)


def test_a_duplicate_name_is_a_400_from_the_service(api, project):
    response = _post(api("superuser"), "/api/v1/projects/", _body(name=project.name))
    assert "name" in assert_error(response, 400, "invalid")["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"cache_ttl": "soon"}, "cache_ttl"),
        ({"cache_ttl": -1}, "cache_ttl"),
        ({"region": "mars-1"}, "region"),
        ({"auth_type": "magic"}, "auth_type"),
        ({"name": ["a"]}, "name"),
        ({"upstream_project_id": "../etc"}, "upstream_project_id"),
        ({"token_expires_at": "tomorrow"}, "token_expires_at"),
        ({"has_secret_key": False}, "has_secret_key"),
        ({"access_key_hint": "x"}, "access_key_hint"),
    ],
)
def test_it_refuses_unknown_fields_and_wrong_types(api, project, body, field):
    response = _patch(api("admin"), f"/api/v1/projects/{project.public_id}/", body)
    assert field in assert_error(response, 400, "invalid")["details"]


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null", "42"])
def test_a_body_that_is_not_an_object_is_400(api, project, body):
    response = api("admin").patch(
        f"/api/v1/projects/{project.public_id}/", data=body, content_type="application/json"
    )
    assert_error(response, 400, "invalid")


def test_malformed_json_is_400(api, project):
    response = api("admin").patch(
        f"/api/v1/projects/{project.public_id}/", data="{nope", content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_deeply_nested_json_is_400_not_500(api):
    body = "[" * 100_000 + "]" * 100_000
    response = api("superuser").post(
        "/api/v1/projects/", data=body, content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_a_wrong_content_type_is_415(api, project):
    response = api("admin").patch(
        f"/api/v1/projects/{project.public_id}/", data="name=x", content_type="text/plain"
    )
    assert_error(response, 415, "unsupported_media_type")
    response = api("admin").patch(
        f"/api/v1/projects/{project.public_id}/",
        data="name=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 415, "unsupported_media_type")


def test_a_huge_body_is_413(api, project):
    body = json.dumps({"description": "x" * 400_000})
    response = api("admin").patch(
        f"/api/v1/projects/{project.public_id}/", data=body, content_type="application/json"
    )
    assert_error(response, 413, "request_too_large")


def test_a_method_not_allowed_is_405(api, project):
    response = api("admin").put(
        f"/api/v1/projects/{project.public_id}/", data="{}", content_type="application/json"
    )
    assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects/not-a-uuid/",
        "/api/v1/projects/00000000-0000-0000-0000-000000000000/",
        "/api/v1/nothing-here/",
        "/api/v2/projects/",
    ],
)
def test_unknown_or_malformed_paths_are_json_404(api, path):
    assert_error(api("admin").get(path), 404, "not_found")


@pytest.mark.parametrize("query", ["page=0", "page=999", "page=abc", "page=-1"])
def test_a_bad_page_number_is_404(api, project, query):
    assert_error(api("admin").get(f"/api/v1/projects/?{query}"), 404, "not_found")


def test_page_size_is_capped(api, project):
    body = api("admin").get("/api/v1/projects/?page_size=100000").json()
    assert body["count"] == 1


def test_patch_replaces_a_secret_keeps_blank_ones_and_null_removes(api, project):
    url = f"/api/v1/projects/{project.public_id}/"
    response = _patch(
        api("admin"),
        url,
        {"secret_key": "SKnewSECRETvalue-replaced-0000", "access_key": "", "security_token": None},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["has_secret_key"] is True and body["has_security_token"] is False
    assert body["access_key_hint"] == "AK ••••CD12"
    assert "SKnewSECRETvalue-replaced-0000" not in response.content.decode()
    project.refresh_from_db()
    assert project.credentials()["secret_key"] == "SKnewSECRETvalue-replaced-0000"
    assert project.credentials_version == 2


def test_switching_auth_type_requires_the_new_types_secrets(api, project):
    url = f"/api/v1/projects/{project.public_id}/"
    response = _patch(api("admin"), url, {"auth_type": "password"})
    details = assert_error(response, 400, "invalid")["details"]
    assert {"iam_password", "iam_domain", "iam_user"} <= set(details)
    response = _patch(
        api("admin"),
        url,
        {"auth_type": "password", "iam_domain": "d", "iam_user": "u", "iam_password": "pw-plain"},
    )
    assert response.status_code == 200
    assert response.json()["has_password"] is True
    assert response.json()["has_secret_key"] is False  # the old type's secrets are dropped
    assert "pw-plain" not in response.content.decode()


def test_delete_removes_the_project(api, project):
    assert api("admin").delete(f"/api/v1/projects/{project.public_id}/").status_code == 204
    assert not CloudProject.objects.filter(pk=project.pk).exists()


# ---- members -------------------------------------------------------------------------------------


def test_members_are_listed_with_username_and_role(api, project):
    body = api("viewer").get(f"/api/v1/projects/{project.public_id}/members/").json()
    assert body["results"] == [
        {"username": "alice", "role": "admin"},
        {"username": "bob", "role": "viewer"},
    ]


def test_an_admin_adds_changes_and_removes_members(api, project, charlie):
    client = api("admin")
    url = f"/api/v1/projects/{project.public_id}/members/"
    response = _post(client, url, {"username": "charlie"})
    assert response.status_code == 201
    assert response.json() == {"username": "charlie", "role": "viewer"}
    assert _patch(client, url + "charlie/", {"role": "admin"}).json()["role"] == "admin"
    assert client.delete(url + "charlie/").status_code == 204
    assert not Membership.objects.filter(project=project, user=charlie).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "nobody"}, "username"),
        ({"username": "bob"}, "username"),
        ({"username": "charlie", "role": "owner"}, "role"),
        ({"username": "charlie", "extra": 1}, "extra"),
        ({}, "username"),
    ],
)
def test_adding_a_member_validates(api, project, charlie, body, field):
    response = _post(api("admin"), f"/api/v1/projects/{project.public_id}/members/", body)
    assert field in assert_error(response, 400, "invalid")["details"]


def test_the_last_admin_can_be_neither_removed_nor_demoted(api, project):
    url = f"/api/v1/projects/{project.public_id}/members/alice/"
    assert_error(api("admin").delete(url), 400, "invalid")
    assert_error(_patch(api("admin"), url, {"role": "viewer"}), 400, "invalid")
    assert Membership.objects.get(project=project, user__username="alice").role == Role.ADMIN


def test_an_unknown_member_is_404(api, project):
    url = f"/api/v1/projects/{project.public_id}/members/nobody/"
    assert_error(api("admin").delete(url), 404, "not_found")


# ---- check ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_check_answers_ok_message_and_time(api, sim_project):
    response = api("viewer").post(
        f"/api/v1/projects/{sim_project.public_id}/check/", content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"ok", "message", "checked_at"}
    assert body["ok"] is True and body["checked_at"]
    project = api("viewer").get(f"/api/v1/projects/{sim_project.public_id}/").json()
    assert project["last_check"]["ok"] is True
