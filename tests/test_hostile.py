"""The portal attacked as a hostile user, a hostile upstream and a broken network would (issue 18):
races on PostgreSQL (run with DATABASE_URL=postgres://…; they pass on SQLite too, where writers are
serialised anyway), hostile task documents from hypothesis, NUL bytes and huge inputs."""

import base64
import json
import logging
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tasks.errors import EditConflict
from tasks.models import AuditEvent, CloudProject, Membership, Role
from tasks.services.members import member_add, member_remove, member_set_role
from tasks.services.projects import project_update
from tests.api_fixtures import assert_error, token_client, token_for
from tests.conftest import SECRETS
from tests.helpers import run_concurrently

RACE = pytest.mark.django_db(transaction=True)
TRIALS = 4


@pytest.fixture
def dave(django_user_model, password):
    """A second admin of the project, beside alice."""
    return django_user_model.objects.create_user("dave", "dave@example.com", password)


def _two_admins(project, dave) -> tuple[Membership, Membership]:
    Membership.objects.filter(project=project).exclude(role=Role.ADMIN).delete()
    theirs = Membership.objects.create(project=project, user=dave, role=Role.ADMIN)
    return Membership.objects.get(project=project, role=Role.ADMIN, user__username="alice"), theirs


def _admins(project) -> int:
    return Membership.objects.filter(project=project, role=Role.ADMIN).count()


# ---- 1: the last-admin rule under a race ---------------------------------------------------------


@RACE
@pytest.mark.parametrize("action", ["remove", "demote"])
def test_two_sole_admins_acting_on_each_other_at_once_leave_one_admin(project, alice, dave, action):
    for _trial in range(TRIALS):
        ours, theirs = _two_admins(project, dave)

        def act(actor, membership):
            if action == "remove":
                return lambda: member_remove(actor=actor, membership=membership)
            return lambda: member_set_role(actor=actor, membership=membership, role=Role.VIEWER)

        results = run_concurrently(act(alice, theirs), act(dave, ours))
        assert _admins(project) == 1, results
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1 and isinstance(refused[0], ValidationError | PermissionDenied)
        Membership.objects.filter(project=project).exclude(user__username="alice").delete()
        Membership.objects.filter(project=project, user__username="alice").update(role=Role.ADMIN)
        if not Membership.objects.filter(project=project, user__username="alice").exists():
            Membership.objects.create(project=project, user=alice, role=Role.ADMIN)


def test_an_admin_demoted_a_moment_ago_can_no_longer_manage_members(project, alice, dave, bob):
    ours, theirs = _two_admins(project, dave)
    Membership.objects.filter(pk=theirs.pk).update(role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        member_set_role(actor=dave, membership=ours, role=Role.VIEWER)
    assert _admins(project) == 1


# ---- 7: parallel creates are a field error, never a 500 ------------------------------------------


@RACE
def test_parallel_adds_of_one_member_are_one_201_and_field_errors(project, charlie, alice):
    results = run_concurrently(
        *[
            lambda: member_add(actor=alice, project=project, username="charlie", role="viewer")
            for _ in range(4)
        ]
    )
    added = [r for r in results if isinstance(r, Membership)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(added) == 1 and len(refused) == 3, results
    assert all("username" in error.message_dict for error in refused)
    assert Membership.objects.filter(project=project, user=charlie).count() == 1


@RACE
def test_parallel_creates_of_one_project_name_are_one_201_and_field_errors(superuser):
    key = token_for(superuser)
    body = {
        "name": "Raced",
        "region": "cn-north-4",
        "upstream_project_id": "0123456789abcdef0123456789abcdef",
        "auth_type": "aksk",
        **SECRETS,
    }

    def create():
        return token_client(key).post(
            "/api/v1/projects/", data=json.dumps(body), content_type="application/json"
        )

    responses = run_concurrently(*[create for _ in range(6)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 400, 400, 400, 400, 400], statuses
    for response in responses:
        if response.status_code == 400:
            assert "name" in assert_error(response, 400, "invalid")["details"]
    assert CloudProject.objects.filter(name="Raced").count() == 1


# ---- 8: lost updates -----------------------------------------------------------------------------


def _copy(project) -> CloudProject:
    """Another admin's copy of the project, read before anyone writes."""
    return CloudProject.objects.get(pk=project.pk)


@RACE
def test_two_admins_changing_different_fields_at_once_both_keep_their_change(project, alice):
    for trial in range(TRIALS):
        first, second = _copy(project), _copy(project)
        run_concurrently(
            lambda: project_update(
                actor=alice, project=first, fields={"description": f"lobby {trial}"}
            ),
            lambda: project_update(actor=alice, project=second, fields={"cache_ttl": 100 + trial}),
        )
        stored = _copy(project)
        assert (stored.description, stored.cache_ttl) == (f"lobby {trial}", 100 + trial)


@RACE
def test_a_concurrent_credential_replacement_is_never_written_back_over(project, alice):
    for trial in range(TRIALS):
        first, second = _copy(project), _copy(project)
        new_secret = f"SKreplaced-{trial}-0123456789abcdef"
        run_concurrently(
            lambda: project_update(
                actor=alice, project=first, fields={}, secrets={"secret_key": new_secret}
            ),
            lambda: project_update(actor=alice, project=second, fields={"description": "x"}),
        )
        assert _copy(project).credentials()["secret_key"] == new_secret


def test_an_edit_based_on_a_stale_version_is_refused(project, alice):
    read = _copy(project)
    project_update(actor=alice, project=_copy(project), fields={"description": "theirs"})
    with pytest.raises(EditConflict):
        project_update(
            actor=alice,
            project=read,
            fields={"description": "mine"},
            expected_updated_at=read.updated_at,
        )
    assert _copy(project).description == "theirs"


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["body", "if-match"])
def test_the_api_answers_409_edit_conflict_for_a_stale_version(alice, project, how):
    client = token_client(token_for(alice))
    url = f"/api/v1/projects/{project.public_id}/"
    read = client.get(url).json()["updated_at"]
    project_update(actor=alice, project=_copy(project), fields={"description": "theirs"})

    def patch(version):
        body = {"description": "mine"}
        headers = {}
        if how == "body":
            body["updated_at"] = version
        else:
            headers["HTTP_IF_MATCH"] = f'"{version}"'
        return client.patch(url, data=json.dumps(body), content_type="application/json", **headers)

    error = assert_error(patch(read), 409, "edit_conflict")
    assert "changed this project" in error["message"]
    assert _copy(project).description == "theirs"
    current = client.get(url).json()["updated_at"]
    response = patch(current)
    assert response.status_code == 200 and response.json()["description"] == "mine"
    assert response.json()["updated_at"] != current


@pytest.mark.django_db
def test_the_edit_page_refuses_a_stale_save_with_a_message(client, alice, project):
    client.force_login(alice)
    page = client.get(f"/projects/{project.public_id}/edit/")
    version = page.context["form"]["version"].value()
    project_update(actor=alice, project=_copy(project), fields={"description": "theirs"})
    form = {
        "name": project.name,
        "description": "mine",
        "region": project.region,
        "upstream_project_id": project.upstream_project_id,
        "endpoint": project.endpoint,
        "iam_endpoint": project.iam_endpoint,
        "default_service": project.default_service,
        "cache_ttl": project.cache_ttl,
        "auth_type": project.auth_type,
        "version": version,
    }
    response = client.post(f"/projects/{project.public_id}/edit/", form)
    assert response.status_code == 200
    assert "Someone else changed this project" in response.content.decode()
    assert _copy(project).description == "theirs"
    # Saved again from the page as shown now, the edit goes through.
    form["version"] = response.context["form"]["version"].value()
    assert client.post(f"/projects/{project.public_id}/edit/", form).status_code == 302
    assert _copy(project).description == "mine"


# ---- 3: the stored secrets never follow a change of address or identity --------------------------

MOVES = {
    "endpoint": "https://iva.cn-east-3.myhuaweicloud.com",
    "iam_endpoint": "http://127.0.0.1:9/",
    "region": "cn-east-3",
    "upstream_project_id": "ffffffffffffffffffffffffffffffff",
}


@pytest.mark.django_db
@pytest.mark.parametrize("field", MOVES)
def test_moving_a_project_without_its_credentials_is_refused_naming_them(alice, project, field):
    client = token_client(token_for(alice))
    url = f"/api/v1/projects/{project.public_id}/"
    response = client.patch(
        url, data=json.dumps({field: MOVES[field]}), content_type="application/json"
    )
    details = assert_error(response, 400, "invalid")["details"]
    assert {"access_key", "secret_key"} <= set(details)
    assert "enter this credential again" in details["secret_key"][0]
    stored = _copy(project)
    assert getattr(stored, field) != MOVES[field]
    assert stored.credentials() == SECRETS


@pytest.mark.django_db
def test_moving_a_project_with_new_credentials_drops_the_secrets_not_sent_again(alice, project):
    client = token_client(token_for(alice))
    url = f"/api/v1/projects/{project.public_id}/"
    body = {
        "iam_endpoint": MOVES["iam_endpoint"],
        "access_key": "AKnew00001111",
        "secret_key": "SKnew",
    }
    response = client.patch(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["has_security_token"] is False
    assert _copy(project).credentials() == {"access_key": "AKnew00001111", "secret_key": "SKnew"}
    event = AuditEvent.objects.filter(action="credentials.replaced").latest("id")
    assert event.details == {
        "secrets": {"access_key": "changed", "secret_key": "changed", "security_token": "cleared"},
        "because_changed": ["iam_endpoint"],
    }


@pytest.mark.django_db
def test_the_edit_page_asks_for_the_password_again_when_the_iam_endpoint_changes(
    client, alice, project
):
    project_update(
        actor=alice,
        project=project,
        fields={"auth_type": "password", "iam_domain": "acme", "iam_user": "ops"},
        secrets={"iam_password": "IAMpassword-plain-1"},
    )
    client.force_login(alice)
    form = {
        "name": project.name,
        "region": project.region,
        "upstream_project_id": project.upstream_project_id,
        "endpoint": project.endpoint,
        "iam_endpoint": "http://127.0.0.1:9/",
        "default_service": project.default_service,
        "cache_ttl": project.cache_ttl,
        "auth_type": "password",
        "iam_domain": "acme",
        "iam_user": "ops",
    }
    response = client.post(f"/projects/{project.public_id}/edit/", form)
    assert response.status_code == 200
    assert "iam_password" in response.context["form"].errors
    stored = _copy(project)
    assert stored.iam_endpoint != "http://127.0.0.1:9/"
    assert stored.credentials() == {"iam_password": "IAMpassword-plain-1"}


# ---- 5: NUL bytes are the contract's 400 at the edge ---------------------------------------------


def _nul_requests(project, alice_key):
    base = f"/api/v1/projects/{project.public_id}"
    token = {"HTTP_AUTHORIZATION": f"Token {alice_key}"}
    json_body = {"content_type": "application/json"}
    return {
        "basic credentials": (
            "post",
            "/api/v1/auth/token/",
            {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"a\x00b:x").decode()},
        ),
        "basic password": (
            "post",
            "/api/v1/auth/token/",
            {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:x\x00").decode()},
        ),
        "api member path": ("get", f"{base}/members/a%00b/", token),
        "api member patch": (
            "patch",
            f"{base}/members/a%00b/",
            {**token, **json_body, "data": '{"role": "viewer"}'},
        ),
        "api query value": ("get", f"{base}/tasks/?service=a%00b", token),
        "api header": ("get", f"{base}/", {**token, "HTTP_X_REQUEST_ID": "a\x00b"}),
        "api json body": (
            "patch",
            f"{base}/",
            {**token, **json_body, "data": '{"description": "a\\u0000b"}'},
        ),
        "api json member add": (
            "post",
            f"{base}/members/",
            {**token, **json_body, "data": '{"username": "a\\u0000b"}'},
        ),
        "session cookie": ("get", "/projects/", {"HTTP_COOKIE": "sessionid=a\x00b"}),
        "page path": ("get", f"/projects/{project.public_id}/services/a%00b/tasks/", {}),
        "member role path": (
            "post",
            f"/projects/{project.public_id}/members/a%00b/role/",
            {"data": {"role": "viewer"}},
        ),
        "member add form": (
            "post",
            f"/projects/{project.public_id}/members/add/",
            {"data": {"username": "a\x00b", "role": "viewer"}},
        ),
        "member role form": (
            "post",
            f"/projects/{project.public_id}/members/bob/role/",
            {"data": {"role": "vie\x00wer"}},
        ),
        "token revoke path": ("post", "/account/tokens/a%00b/revoke/", {}),
        "token create form": (
            "post",
            "/account/tokens/",
            {"data": {"name": "a\x00b", "expires_days": "1"}},
        ),
        "login form": (
            "post",
            "/accounts/login/",
            {"data": {"username": "a\x00b", "password": "x"}},
        ),
    }


NUL_CASES = [
    "basic credentials",
    "basic password",
    "api member path",
    "api member patch",
    "api query value",
    "api header",
    "api json body",
    "api json member add",
    "session cookie",
    "page path",
    "member role path",
    "member add form",
    "member role form",
    "token revoke path",
    "token create form",
    "login form",
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", NUL_CASES)
def test_a_nul_anywhere_in_a_request_is_a_400_without_a_traceback(
    client, alice, project, case, caplog
):
    client.force_login(alice)
    method, path, options = _nul_requests(project, token_for(alice))[case]
    options = dict(options)
    data = options.pop("data", None)
    content_type = options.pop("content_type", None)
    kwargs = {"data": data} if data is not None else {}
    if content_type:
        kwargs["content_type"] = content_type
    with caplog.at_level(logging.ERROR):
        response = getattr(client, method)(path, **kwargs, **options)
    assert response.status_code == 400, (case, response.status_code, response.content[:300])
    if path.startswith("/api/"):
        assert assert_error(response, 400, "bad_request")["message"]
    else:
        assert "NUL character" in response.content.decode()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert project.description == _copy(project).description


# ---- 4: hostile task documents never give a 500 ----------------------------------------------


def test_a_service_title_in_one_language_renders_in_both(client, bob, sim_project, simulator):
    client.force_login(bob)
    for n, title in enumerate([{"en": "Face"}, {"en": None, "zh": "人脸"}, {"zh": "人脸"}, "Face"]):
        task_id = f"5e1f{n:028x}"
        simulator.add_task({**BASE_DOC, "id": task_id, "service_title": title}, service=FACE)
        for language in ("en", "zh-hans"):
            url = f"/projects/{sim_project.public_id}/services/{FACE}/tasks/{task_id}/"
            response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, (title, language)
            if isinstance(title, dict):
                shown = "人脸" if language == "zh-hans" and title.get("zh") else "Face"
                assert shown in response.content.decode() or not title.get("en")


FACE = "c-face-edge"
BASE_DOC = {
    "id": "0" * 32,
    "name": "Gate camera",
    "state": "RUNNING",
    "status": "ok",
    "error": {"code": "VAS.0001", "message": "none"},
    "creator": "ops",
    "project_id": "6204a5bd270343b5885144cf9c8c158d",
    "description": "front gate",
    "service_name": FACE,
    "service_version": "3.0",
    "service_title": {"en": "Face", "zh": "人脸"},
    "edge_pool_id": "e9bf9ebe497d4c9bb2e65d1f99fe1ff9",
    "resource_order_id": "ro-1",
    "created_at": "2024-04-01T08:00:00Z",
    "updated_at": "2024-04-01T08:05:00Z",
    "timing_status": "ON",
    "timing": {"start": "08:00", "end": "18:00"},
    "input": {
        "type": "edgecamera",
        "data": [{"id": "cam-1", "index": 0, "headers": {"X-Auth-Token": "in-secret"}}],
        "vcn": {"ip": "10.0.0.1", "user": "u", "password": "vcn-secret"},
    },
    "output": {
        "webhook": {
            "url": "https://hooks.example.com/x",
            "headers": {"Authorization": "hook-secret"},
            "data_category": ["FaceImage"],
        },
        "dis": {"stream_name": "dis-sim"},
    },
    "service_config": {
        "common": {
            "target_roi": '{"polygons": [{"data": [[1, 1], [100, 1], [100, 100]]}]}',
            "detection_min_size": 120,
            "detection_max_size": 800,
        }
    },
    "hosting_result": {"url": "https://obs.example.com/r", "data": [1, 2]},
}
#: Every place of the document a hostile value may go ("a.b.0" walks into lists).
PATHS = [
    *BASE_DOC,
    "service_title.en",
    "service_title.zh",
    "error.code",
    "error.message",
    "timing.start",
    "input.type",
    "input.data",
    "input.data.0",
    "input.data.0.headers",
    "input.data.0.headers.X-Auth-Token",
    "input.vcn",
    "input.vcn.password",
    "output.webhook",
    "output.webhook.headers",
    "output.webhook.data_category",
    "output.dis",
    "service_config.common",
    "service_config.common.target_roi",
    "service_config.common.detection_min_size",
    "hosting_result.data",
]
ODD_TEXT = [
    "",
    "x" * 200_000,
    "<script>alert(1)</script>",
    "{{ request }}{% debug %}",
    "%(name)s %s",
    "\u202edesrever",
    "☃" * 2000,
    "9" * 400,
    "SOMETHING_NEW",
    "ABNORMAL",
    "[[1, 2], [3]]",
    '{"polygons": [{"data": [[1e308, -1e308], ["a", null]]}], "lines": 7}',
]


def _nested(depth: int):
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _hostile_values():
    from hypothesis import strategies as st

    leaf = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
        | st.sampled_from(ODD_TEXT)
    )
    keys = st.text(max_size=12) | st.sampled_from(["en", "zh", "data", "headers", "password"])
    return st.recursive(
        leaf,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=12,
    ) | st.sampled_from([_nested(12), _nested(40), [None] * 500, {str(n): n for n in range(300)}])


def _child(node, part: str):
    if isinstance(node, list):
        return node[int(part)] if part.isdigit() and int(part) < len(node) else None
    return node.get(part)


def _hostile_documents():
    """BASE_DOC with some of its PATHS deleted or replaced by a hostile value."""
    from hypothesis import strategies as st

    @st.composite
    def documents(draw):
        doc = json.loads(json.dumps(BASE_DOC))
        for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=6, unique=True)):
            *parents, last = path.split(".")
            node = doc
            for part in parents:
                node = _child(node, part)
                if not isinstance(node, dict | list):
                    break
            else:
                if isinstance(node, list):
                    if last.isdigit() and int(last) < len(node):
                        node[int(last)] = draw(_hostile_values())
                elif draw(st.booleans()):
                    node.pop(last, None)
                else:
                    node[last] = draw(_hostile_values())
        return doc

    return documents()


def _no_500(response, what: str) -> None:
    # 502 upstream_invalid_response is the contract's answer to a document that is not a task.
    assert response.status_code in (200, 404, 502), (what, response.status_code)
    assert b"Traceback" not in response.content, what


@pytest.mark.django_db
@pytest.mark.integration
def test_hostile_task_documents_never_give_a_500_anywhere(client, bob, sim_project, simulator):
    from hypothesis import HealthCheck, given, settings

    from tasks.services.snapshots import snapshot_record
    from tasks.vas.parsing import redact_task

    client.force_login(bob)
    numbers = iter(range(1, 10_000))
    base = f"/projects/{sim_project.public_id}/services/{FACE}/tasks"
    api_base = f"/api/v1/projects/{sim_project.public_id}/services/{FACE}/tasks"

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(doc=_hostile_documents())
    def check(doc):
        task_id = f"{next(numbers):032x}"
        # Live: through the simulator's socket, the client's checks and the cache.
        simulator.add_task({**doc, "id": task_id}, service=FACE)
        for language in ("en", "zh-hans"):
            page = client.get(f"{base}/{task_id}/", HTTP_ACCEPT_LANGUAGE=language)
            _no_500(page, f"detail {language}")
        _no_500(client.get(f"{api_base}/{task_id}/"), "api task")
        _no_500(client.get(f"{api_base}/{task_id}/roi/"), "api roi")
        # Stored as it came (whatever the client's checks would say), then shown as a version.
        tracked, snapshot, _changed = snapshot_record(
            project=sim_project,
            service=FACE,
            task_id=task_id,
            payload=redact_task(doc),
            request_id=None,
            now=timezone.now(),
        )
        for language in ("en", "zh-hans"):
            page = client.get(
                f"{base}/{task_id}/?snapshot={snapshot.pk}", HTTP_ACCEPT_LANGUAGE=language
            )
            _no_500(page, f"snapshot {language}")
            _no_500(
                client.get(f"{base}/{task_id}/history/", HTTP_ACCEPT_LANGUAGE=language), "history"
            )
        _no_500(client.get(f"{api_base}/{task_id}/snapshots/"), "api snapshots")
        _no_500(client.get(f"{api_base}/{task_id}/snapshots/{snapshot.pk}/"), "api snapshot")

    check()


# ---- 13: redaction by name anywhere, in both header shapes and in URLs ------------------------

SECRET_NAMES = [
    "Authorization",
    "X-Auth",
    "X-Auth-Token",
    "x-api-key",
    "apiKey",
    "passwd",
    "Password",
    "pwd",
    "credential",
    "Credentials",
    "client_secret",
    "token",
    "access_token",
    "Cookie",
    "Set-Cookie",
    "X-Signature",
    "sign",
    "session_id",
    "private_key",
    "AccessKey",
    "sk",
]
PLAIN_NAMES = ["Content-Type", "Accept", "author", "keyword", "index", "stream_name", "user"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_a_secret_looking_name_is_masked_in_every_shape_and_place(name):
    from tasks.vas.parsing import REDACTED, redact_document

    value = f"plain-{name}-value"
    doc = {
        "output": {"webhook": {"headers": {name: value}}},
        "deep": {"any": [{"odd": {name: value}}]},
        "pairs": [[name, value], ["Accept", "json"]],
        "objects": [{"name": name, "value": value}, {"name": "Accept", "value": "json"}],
        "input": {"vcn": {name: value}},
    }
    out = redact_document(doc)
    assert value not in json.dumps(out)
    assert out["pairs"] == [[name, REDACTED], ["Accept", "json"]]
    assert out["objects"][1] == {"name": "Accept", "value": "json"}


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_names_are_kept(name):
    from tasks.vas.parsing import redact_document

    assert redact_document({"headers": {name: "v"}, "pairs": [[name, "v"]]}) == {
        "headers": {name: "v"},
        "pairs": [[name, "v"]],
    }


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:cam-pass-1@10.0.0.7:554/live", "rtsp://admin:******@10.0.0.7:554/live"),
        (
            "https://hooks.example.com/x?token=hook-tok-1&a=1",
            "https://hooks.example.com/x?token=******&a=1",
        ),
        (
            "https://h.example.com/?access_token=t1&sig=s1",
            "https://h.example.com/?access_token=******&sig=******",
        ),
        ("https://h.example.com/?page=2", "https://h.example.com/?page=2"),
        ("https://user@h.example.com/", "https://user@h.example.com/"),
        ("http://[::1", "http://[::1"),
    ],
)
def test_passwords_and_secret_query_parameters_in_urls_are_masked(url, shown):
    from tasks.vas.parsing import redact_document

    assert redact_document({"input": {"data": [{"url": url}]}}) == {
        "input": {"data": [{"url": shown}]}
    }


@pytest.mark.django_db
@pytest.mark.integration
def test_secrets_of_an_upstream_task_are_masked_before_storing_caching_and_showing(
    client, bob, sim_project, simulator
):
    from django.core.cache import cache

    from tasks.models import TaskSnapshot
    from tasks.services.task_fetch import task_cache_key

    task_id = "5ec2e75ec2e75ec2e75ec2e75ec2e75e"
    plaintexts = [
        "hdr-xauth-1",
        "hdr-passwd-2",
        "hdr-cred-3",
        "pair-tok-4",
        "obj-pw-5",
        "url-pw-6",
        "q-tok-7",
        "vcn-pw-8",
    ]
    doc = {
        **BASE_DOC,
        "id": task_id,
        "input": {
            "type": "vcn",
            "data": [
                {"url": "rtsp://cam:url-pw-6@10.0.0.7/live", "headers": [["X-Token", "pair-tok-4"]]}
            ],
            "vcn": {"user": "u", "passwd": "vcn-pw-8"},
        },
        "output": {
            "webhook": {
                "url": "https://hooks.example.com/in?token=q-tok-7",
                "headers": {
                    "X-Auth": "hdr-xauth-1",
                    "passwd": "hdr-passwd-2",
                    "credential": "hdr-cred-3",
                },
            },
            "other": {"headers": [{"name": "Password", "value": "obj-pw-5"}]},
        },
    }
    simulator.add_task(doc, service=FACE)
    client.force_login(bob)
    shown = [
        client.get(f"/projects/{sim_project.public_id}/services/{FACE}/tasks/{task_id}/"),
        client.get(f"/api/v1/projects/{sim_project.public_id}/services/{FACE}/tasks/{task_id}/"),
    ]
    assert all(r.status_code == 200 for r in shown)
    stored = json.dumps(list(TaskSnapshot.objects.values_list("payload", flat=True)))
    cached = cache.get(task_cache_key(sim_project, FACE, task_id))
    assert cached is not None
    cached = repr(cached)
    for plaintext in plaintexts:
        for where, text in [
            ("page", shown[0].content.decode()),
            ("api", shown[1].content.decode()),
            ("database", stored),
            ("cache", cached),
        ]:
            assert plaintext not in text, (plaintext, where)


@pytest.mark.django_db
def test_the_django_admin_cannot_move_a_project_away_from_its_credentials(
    client, superuser, project
):
    client.force_login(superuser)
    url = f"/admin/tasks/cloudproject/{project.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not {"endpoint", "iam_endpoint", "auth_type", "region"} & set(form.fields)
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "endpoint": "http://127.0.0.1:9/",
            "iam_endpoint": "http://127.0.0.1:9/",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        }
    )
    client.post(url, data)
    stored = _copy(project)
    assert "127.0.0.1" not in stored.endpoint + stored.iam_endpoint


# ---- huge and deep input: a clear 4xx, never a 500 ---------------------------------------------


def _huge_requests(project):
    base = f"/api/v1/projects/{project.public_id}"
    page = f"/projects/{project.public_id}"
    return {
        "api json body of 1 MiB": (
            "patch",
            f"{base}/",
            {"data": json.dumps({"description": "x" * 2**20}), "content_type": "application/json"},
            {413},
        ),
        "api json nested 5000 deep": (
            "patch",
            f"{base}/",
            {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"},
            {400},
        ),
        "api task id of 10000 characters": (
            "get",
            f"{base}/services/c-face-edge/tasks/{'a' * 10000}/",
            {},
            {400},
        ),
        "api query of 100 KiB": ("get", f"{base}/tasks/?state={'R' * 100_000}", {}, {200, 400}),
        "api token header of 100 KiB": (
            "get",
            f"{base}/",
            {"HTTP_AUTHORIZATION": "Token " + "f" * 100_000},
            {401},
        ),
        "form of 3 MiB": (
            "post",
            f"{page}/members/add/",
            {"data": {"username": "x" * 3 * 2**20}},
            {400, 413},
        ),
        "form with 5000 fields": (
            "post",
            f"{page}/members/add/",
            {"data": {f"f{n}": "v" for n in range(5000)}},
            {400},
        ),
        "long member name": (
            "post",
            f"{page}/members/add/",
            {"data": {"username": "u" * 100_000, "role": "viewer"}},
            {200},
        ),
        "long member path": (
            "post",
            f"{page}/members/{'u' * 10_000}/role/",
            {"data": {"role": "viewer"}},
            {404},
        ),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    [
        "api json body of 1 MiB",
        "api json nested 5000 deep",
        "api task id of 10000 characters",
        "api query of 100 KiB",
        "api token header of 100 KiB",
        "form of 3 MiB",
        "form with 5000 fields",
        "long member name",
        "long member path",
    ],
)
def test_huge_or_deep_input_is_a_clear_refusal_never_a_500(client, alice, project, case):
    method, path, options, expected = _huge_requests(project)[case]
    options = dict(options)
    client.force_login(alice)
    if path.startswith("/api/") and "HTTP_AUTHORIZATION" not in options:
        options["HTTP_AUTHORIZATION"] = f"Token {token_for(alice)}"
    client.raise_request_exception = True
    response = getattr(client, method)(path, **options)
    assert response.status_code in expected, (case, response.status_code, response.content[:200])
