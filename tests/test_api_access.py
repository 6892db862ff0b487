"""Every API endpoint × the cast: who gets what, always in the contract's error shape, and never a
secret in any answer."""

import pytest

from tasks.services.frames import frame_put
from tasks.services.task_fetch import task_fetch
from tests.api_fixtures import ROLES, assert_error, assert_no_secrets
from vassim.simulator import DEFAULT_AK, DEFAULT_SK, SEED_TASK_ID

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

OK, DENIED, HIDDEN = "ok", 403, 404
SVC = "c-face-edge"
TASK = f"/api/v1/projects/{{project}}/services/{SVC}/tasks/{SEED_TASK_ID}/"

# (name, method, path, body, success status, who may: "member" | "admin" | "creator")
ENDPOINTS = [
    ("projects-list", "get", "/api/v1/projects/", None, 200, "anyone"),
    ("projects-create", "post", "/api/v1/projects/", "new", 201, "creator"),
    ("project", "get", "/api/v1/projects/{project}/", None, 200, "member"),
    ("project-patch", "patch", "/api/v1/projects/{project}/", {"cache_ttl": 60}, 200, "admin"),
    ("project-delete", "delete", "/api/v1/projects/{project}/", None, 204, "admin"),
    ("project-check", "post", "/api/v1/projects/{project}/check/", None, 200, "member"),
    ("members", "get", "/api/v1/projects/{project}/members/", None, 200, "member"),
    (
        "members-add",
        "post",
        "/api/v1/projects/{project}/members/",
        {"username": "charlie", "role": "viewer"},
        201,
        "admin",
    ),
    (
        "member-role",
        "patch",
        "/api/v1/projects/{project}/members/bob/",
        {"role": "admin"},
        200,
        "admin",
    ),
    ("member-remove", "delete", "/api/v1/projects/{project}/members/bob/", None, 204, "admin"),
    ("tracked", "get", "/api/v1/projects/{project}/tasks/", None, 200, "member"),
    (
        "upstream-list",
        "get",
        f"/api/v1/projects/{{project}}/services/{SVC}/tasks/",
        None,
        200,
        "member",
    ),
    ("task", "get", TASK, None, 200, "member"),
    ("task-refresh", "get", TASK + "?refresh=true", None, 200, "member"),
    ("roi", "get", TASK + "roi/", None, 200, "member"),
    ("watch", "put", TASK + "watch/", None, 200, "admin"),
    ("unwatch", "delete", TASK + "watch/", None, 200, "admin"),
    ("stop", "post", TASK + "stop/", None, 202, "admin"),
    ("roi-put", "put", TASK + "roi/", "roi", 200, "admin"),
    ("frame", "get", TASK + "frame/", None, 200, "member"),
    ("frame-put", "put", TASK + "frame/", "image", 200, "admin"),
    ("frame-delete", "delete", TASK + "frame/", None, 204, "admin"),
    ("snapshots", "get", TASK + "snapshots/", None, 200, "member"),
    ("snapshot", "get", TASK + "snapshots/{snapshot}/", None, 200, "member"),
    ("health", "get", TASK + "health/?days=7", None, 200, "member"),
    ("dashboard", "get", "/api/v1/dashboard/", None, 200, "anyone"),
]

EXPECTED = {
    # role: {who-may: expected status, where OK means the endpoint's success status}
    "superuser": {"anyone": OK, "creator": OK, "member": OK, "admin": OK},
    "admin": {"anyone": OK, "creator": DENIED, "member": OK, "admin": OK},
    "viewer": {"anyone": OK, "creator": DENIED, "member": OK, "admin": DENIED},
    "outsider": {"anyone": OK, "creator": DENIED, "member": HIDDEN, "admin": HIDDEN},
}


def _new_project_body(simulator_server) -> dict:
    return {
        "name": "Created through the API",
        "region": "cn-north-4",
        "upstream_project_id": "0123456789abcdef0123456789abcdef",
        "endpoint": simulator_server.url,
        "auth_type": "aksk",
        "access_key": "AKPLAINTEXT9876ABCD12",
        "secret_key": "SKplaintextSECRETvalue-0123456789abcdef",
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "path", "body", "success", "who"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_it_answers_each_endpoint_by_role(
    api,
    sim_project,
    simulator_server,
    role,
    name,
    method,
    path,
    body,
    success,
    who,
    cast,
    settings,
    tmp_path,
):
    snapshot = task_fetch(project=sim_project, service=SVC, task_id=SEED_TASK_ID).meta[
        "snapshot_id"
    ]
    url = path.format(project=sim_project.public_id, snapshot=snapshot)
    if name.startswith("frame"):  # a still to see, replace or delete
        settings.MEDIA_ROOT = tmp_path / "media"
        frame_put(
            actor=cast["admin"], project=sim_project, service=SVC, task_id=SEED_TASK_ID, data=_png()
        )
    if body == "new":
        body = _new_project_body(simulator_server)
    if body == "roi":
        body = {"shapes": [], "expected_snapshot_id": snapshot}
    kwargs = {"content_type": "application/json"} if method in ("post", "put", "patch") else {}
    if body == "image":
        body, kwargs["content_type"] = _png(), "image/png"
    if body is not None:
        kwargs["data"] = body
    response = getattr(api(role), method)(url, **kwargs)

    if role in ("anonymous", "expired", "revoked"):
        code = "not_authenticated" if role == "anonymous" else "authentication_failed"
        assert_error(response, 401, code)
        assert response["WWW-Authenticate"] == "Token"
    else:
        expected = EXPECTED[role][who]
        if expected == OK:
            assert response.status_code == success, response.content[:500]
            if name == "frame":
                assert response["Content-Type"] == "image/png"
                assert response["Cache-Control"].startswith("private")
                response = _drained(response)
            elif success != 204:
                assert response["Content-Type"] == "application/json"
        else:
            assert_error(
                response, expected, "permission_denied" if expected == 403 else "not_found"
            )
    assert_no_secrets(response, extra=(DEFAULT_AK, DEFAULT_SK))


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 18), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


def _drained(response):
    """A streamed image answer, read once so the secret search sees its bytes."""
    from django.http import HttpResponse

    drained = HttpResponse(b"".join(response.streaming_content))
    drained.request = response.request
    return drained


def test_the_outsider_sees_no_project_in_the_list(api, project):
    assert api("outsider").get("/api/v1/projects/").json()["count"] == 0
    assert api("viewer").get("/api/v1/projects/").json()["count"] == 1


def test_another_projects_objects_are_404_also_below_it(
    api, sim_project, project, django_user_model
):
    """bob views both projects; charlie administers only his own: nothing of the others is his."""
    from tasks.models import Membership, Role
    from tasks.services.projects import project_create

    charlie = django_user_model.objects.get(username="charlie")
    own = project_create(
        actor=charlie,
        fields={"name": "Charlie's", "upstream_project_id": "abc", "auth_type": "aksk"},
        secrets={"access_key": "AKCHARLIE0000001", "secret_key": "SKCHARLIE"},
    )
    assert Membership.objects.get(project=own, user=charlie).role == Role.ADMIN
    snapshot = task_fetch(project=sim_project, service=SVC, task_id=SEED_TASK_ID).meta[
        "snapshot_id"
    ]
    client = api("outsider")
    base = f"/api/v1/projects/{sim_project.public_id}"
    for url in (
        f"{base}/",
        f"{base}/members/",
        f"{base}/members/alice/",
        f"{base}/tasks/",
        f"{base}/services/{SVC}/tasks/{SEED_TASK_ID}/snapshots/{snapshot}/",
    ):
        assert_error(client.get(url) if "members/alice" not in url else client.delete(url), 404)
    # The snapshot id of another project's task, asked through charlie's own project: 404 too.
    url = (
        f"/api/v1/projects/{own.public_id}/services/{SVC}/tasks/{SEED_TASK_ID}"
        f"/snapshots/{snapshot}/"
    )
    assert_error(client.get(url), 404, "not_found")
