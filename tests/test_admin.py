"""The Django admin changes projects through the same service and rules as the pages and the API,
and every outbound call is guarded at call time, whatever saved the address."""

from __future__ import annotations

import json

import pytest

from tasks.models import AuditEvent, AuthType, CloudProject
from tasks.services.projects import project_check
from tests.helpers import record_connects
from vassim.simulator import DEFAULT_IAM_DOMAIN, DEFAULT_IAM_PASSWORD, DEFAULT_IAM_USER

CHANGE = "/admin/tasks/cloudproject/{pk}/change/"
ADD = "/admin/tasks/cloudproject/add/"


def _form(project: CloudProject | None = None, **overrides: str) -> dict[str, str]:
    """The admin's change (or add) form as a browser would post it, with ``overrides``."""
    data = {
        "name": "Parking cameras",
        "description": "",
        "region": "cn-north-4",
        "upstream_project_id": "0123456789abcdef0123456789abcdef",
        "endpoint": "",
        "iam_endpoint": "",
        "default_service": "c-face-edge",
        "cache_ttl": "30",
        "poll_interval": "300",
        "auth_type": "aksk",
        "iam_domain": "",
        "iam_user": "",
        "token_expires_at_0": "",
        "token_expires_at_1": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    if project is not None:
        for field in ("name", "region", "upstream_project_id", "endpoint", "iam_endpoint"):
            data[field] = str(getattr(project, field))
        data["auth_type"] = project.auth_type
        data["cache_ttl"] = str(project.cache_ttl)
        data["default_service"] = project.default_service
        data["poll_interval"] = str(project.poll_interval)
    data.update(overrides)
    return data


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("iam_endpoint", "http://169.254.169.254"),
        ("iam_endpoint", "https://169.254.169.254"),
        ("endpoint", "https://evil.example.com"),
        ("endpoint", "http://10.0.0.1"),
        ("auth_type", "password"),
        ("upstream_project_id", "ffffffffffffffffffffffffffffffff"),
    ],
)
def test_the_admin_never_moves_a_project_where_its_secrets_would_follow(
    admin_client, project, field, value
):
    # Where the secrets go is read-only in the admin: a move needs the credentials again, which
    # only the portal's edit page asks for. Whatever is posted, the stored value stays.
    page = admin_client.get(CHANGE.format(pk=project.pk))
    assert field not in page.context["adminform"].form.fields
    before = getattr(CloudProject.objects.get(pk=project.pk), field)
    admin_client.post(CHANGE.format(pk=project.pk), _form(project, **{field: value}))
    assert getattr(CloudProject.objects.get(pk=project.pk), field) == before
    assert CloudProject.objects.get(pk=project.pk).credentials()["secret_key"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("cache_ttl", "100000"), ("default_service", "not a service!"), ("name", "")],
)
def test_the_admin_refuses_what_the_pages_refuse(admin_client, project, field, value):
    before = (getattr(CloudProject.objects.get(pk=project.pk), field), AuditEvent.objects.count())
    response = admin_client.post(CHANGE.format(pk=project.pk), _form(project, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    after = (getattr(CloudProject.objects.get(pk=project.pk), field), AuditEvent.objects.count())
    assert after == before


def test_the_admin_does_not_create_projects(admin_client):
    # Secrets are never entered in the admin, and a project needs its credentials.
    assert admin_client.get(ADD).status_code == 403
    assert admin_client.post(ADD, _form(iam_endpoint="http://169.254.169.254")).status_code == 403
    assert not CloudProject.objects.filter(name="Parking cameras").exists()


def test_an_admin_change_goes_through_the_service(admin_client, superuser, project):
    version = project.credentials_version
    response = admin_client.post(
        CHANGE.format(pk=project.pk),
        _form(project, description="new", iam_domain="acme", cache_ttl="45"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    project.refresh_from_db()
    assert (project.description, project.iam_domain, project.cache_ttl) == ("new", "acme", 45)
    assert project.credentials_version == version + 1  # the IAM domain: a new identity upstream
    event = AuditEvent.objects.filter(action="project.updated").latest("created_at")
    assert event.actor == superuser and {"description", "iam_domain"} <= set(
        event.details["changed"]
    )
    assert project.credentials()["secret_key"]  # the stored secrets are untouched


def test_an_admin_delete_goes_through_the_service(admin_client, superuser, project):
    response = admin_client.post(f"/admin/tasks/cloudproject/{project.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not CloudProject.objects.filter(pk=project.pk).exists()
    assert AuditEvent.objects.filter(action="project.deleted", actor=superuser).exists()


# ------------------------------------------------------------- guarded at call time as well


def _password_project(project: CloudProject, iam_endpoint: str) -> CloudProject:
    """Rewrites the row straight in the database, past every form and service."""
    project.set_secret("iam_password", DEFAULT_IAM_PASSWORD)
    project.save()
    CloudProject.objects.filter(pk=project.pk).update(
        auth_type=AuthType.PASSWORD,
        iam_domain=DEFAULT_IAM_DOMAIN,
        iam_user=DEFAULT_IAM_USER,
        iam_endpoint=iam_endpoint,
        credentials_version=project.credentials_version + 1,
    )
    return CloudProject.objects.get(pk=project.pk)


def test_a_check_never_sends_the_iam_password_to_an_unlisted_loopback_address(
    settings, sim_project, simulator
):
    settings.PORTAL_UPSTREAM_ALLOWED_HOSTS = [".myhuaweicloud.com", "127.0.0.1"]
    # The simulator answers IAM on the same port; "localhost" is not on the list.
    port = sim_project.endpoint.rsplit(":", 1)[1]
    project = _password_project(sim_project, f"http://localhost:{port}")
    checked = project_check(project=project)
    assert checked.last_check_ok is False
    assert simulator.count("/v3/auth/tokens") == 0
    assert checked.last_check_result["code"] == "endpoint_not_allowed"
    assert DEFAULT_IAM_PASSWORD not in json.dumps(checked.last_check_result)


def test_a_check_never_connects_to_a_metadata_iam_endpoint(
    settings, sim_project, simulator, monkeypatch
):
    settings.PORTAL_UPSTREAM_ALLOWED_HOSTS = [".myhuaweicloud.com", "127.0.0.1", "169.254.169.254"]
    connected = record_connects(monkeypatch)
    project = _password_project(sim_project, "http://169.254.169.254")
    assert project_check(project=project).last_check_ok is False
    assert not any(isinstance(a, tuple) and a[0] == "169.254.169.254" for a in connected)
