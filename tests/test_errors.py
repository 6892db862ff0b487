"""The one error catalogue: every code the API can answer with is declared once, with a status the
contract names, and reads in English and Chinese; what is raised and stored is a code and params,
never a sentence, and is worded at the edge in the reader's language."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation
from rest_framework import exceptions as drf_exceptions

from tasks import errors as catalogue
from tasks.errors import (
    CATALOGUE,
    NOTICES,
    Message,
    PortalError,
    entry,
    error_text,
    roi_for_reader,
    stored_error,
    stored_text,
)
from tasks.roi import PROBLEM_MESSAGES, normalise_roi
from tasks.vas import errors as vas_errors

BASE = Path(settings.BASE_DIR)
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}

#: The contract's error table (with "Additions (second round)": Changed lines): code -> status.
CONTRACT = {
    "invalid_task_id": 400,
    "invalid_service": 400,
    "not_found": 404,
    "task_not_found": 404,
    "upstream_bad_request": 400,
    "upstream_auth_failed": 502,
    "upstream_forbidden": 502,
    "upstream_unavailable": 503,
    "upstream_timeout": 504,
    "upstream_invalid_response": 502,
    "throttled": 429,
    "not_authenticated": 401,
    "authentication_failed": 401,
    "permission_denied": 403,
    "locked_out": 429,
    "credentials_unavailable": 409,
    "invalid_state": 400,
    "invalid_page": 400,
    "parse_error": 400,
    "unsupported_media_type": 415,
    "method_not_allowed": 405,
    "request_too_large": 413,
    "endpoint_not_allowed": 502,
    "bad_request": 400,
}

#: Portal error classes (and Message) -> their fixed code (None: the first argument is the code).
PORTAL_ERRORS = {
    "PortalError": None,
    "Message": None,
    "NotFound": "not_found",
    "Forbidden": "permission_denied",
    "CredentialsUnavailable": "credentials_unavailable",
}
VAS_ERRORS = {cls.__name__: cls.code for cls in vas_errors.VasError.by_code.values()}


def _sample(template: str) -> dict[str, object]:
    return {name: 7 if kind == "d" else "X1" for name, kind in PLACEHOLDER.findall(template)}


def _texts(code: str) -> list[str]:
    found = CATALOGUE[code]
    return [found.title, found.message, found.next_step, *found.reasons.values()]


# --------------------------------------------------------------------------- the catalogue


def test_the_contracts_codes_are_in_the_catalogue_with_the_contracts_statuses():
    assert {code: CATALOGUE[code].status for code in CONTRACT} == CONTRACT


def test_a_code_has_one_status_unless_the_contract_gives_a_reason_its_own():
    assert [code for code, found in CATALOGUE.items() if found.statuses] == ["invalid_state"]
    assert PortalError("invalid_state").http_status == 400  # the filter
    start_running = PortalError("invalid_state", reason="not_startable")  # start a RUNNING task
    assert start_running.http_status == 409
    assert PortalError("invalid_state", reason="not_stoppable").http_status == 409


def test_a_code_is_declared_once():
    with pytest.raises(ValueError, match="declared twice"):
        entry("not_found", 404, title="", message="", next_step="")
    assert CATALOGUE["not_found"].status == 404  # the first declaration stands


def test_every_upstream_error_class_and_drf_exception_has_an_entry():
    assert set(VAS_ERRORS.values()) | {vas_errors.VasError.code} <= set(CATALOGUE)
    drf = [
        cls
        for cls in vars(drf_exceptions).values()
        if isinstance(cls, type)
        and issubclass(cls, drf_exceptions.APIException)
        and cls is not drf_exceptions.APIException
    ]
    assert drf and {cls.default_code for cls in drf} <= set(CATALOGUE)


def _raised_in_sources() -> list[tuple[str, Any, Any]]:
    """(where, code, reason) of every error raised or message made with literal names in the
    portal's sources."""
    found: list[tuple[str, Any, Any]] = []
    for path in sorted((BASE / "tasks").rglob("*.py")) + sorted((BASE / "portal").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            name = node.func.id
            if name not in PORTAL_ERRORS and name not in VAS_ERRORS:
                continue
            literal = {
                kw.arg: kw.value.value
                for kw in node.keywords
                if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
            }
            first = (
                node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            )
            code: Any
            reason: Any
            if name in VAS_ERRORS:  # VasError(reason, params=…)
                code, reason = VAS_ERRORS[name], first or ""
            elif PORTAL_ERRORS[name] is None:  # PortalError(code, reason=…) and Message
                code, reason = first or literal.get("code"), literal.get("reason", "")
                if code is None:
                    continue  # built from a variable: covered where the variable is made
            else:
                code, reason = PORTAL_ERRORS[name], literal.get("reason", "")
            found.append((f"{path.relative_to(BASE)}:{node.lineno}", code, reason))
    return found


def test_every_code_and_reason_raised_in_the_sources_is_declared():
    raised = _raised_in_sources()
    assert len(raised) > 40  # the walk finds them (the client's, the services', the views')
    for where, code, reason in raised:
        if code in NOTICES:
            continue
        assert code in CATALOGUE, (where, code)
        assert not reason or reason in CATALOGUE[code].reasons, (where, code, reason)


@pytest.mark.django_db
def test_the_schema_documents_only_catalogue_codes_with_their_statuses_and_lists_them_all(client):
    schema = client.get("/api/schema/?format=json").json()
    documented = set()
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                examples = response.get("content", {}).get("application/json", {})
                for example in examples.get("examples", {}).values():
                    error = example["value"].get("error")
                    if error is None:
                        continue
                    assert CATALOGUE[error["code"]].status == int(status), error["code"]
                    assert error["message"] and "%(" not in error["message"]
                    documented.add(error["code"])
    # (Per-operation examples; the Django-level ones are in the table below only.)
    undocumented = {"bad_request", "invalid_page", "endpoint_not_allowed", "method_not_allowed"}
    assert set(CONTRACT) - undocumented <= documented
    table = schema["info"]["description"]
    for code, found in CATALOGUE.items():  # the error table: every code, once, with its status
        assert table.count(f"| `{code}` | {found.status}") == 1, code


# --------------------------------------------------------------------------- both languages


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_reads_in_english_and_chinese(code):
    for template in _texts(code):
        params = _sample(template)
        with translation.override("en"):
            english = catalogue.fill(template, params)
        with translation.override("zh-hans"):
            chinese = catalogue.fill(template, params)
        assert english == template % params if params else english == template
        assert not CJK.search(english), (code, english)
        assert CJK.search(chinese), (code, template)
        assert "%(" not in chinese, (code, chinese)
        assert all(str(value) in chinese for value in params.values()), (code, chinese)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_the_error_page_shows_every_codes_title_and_next_step(code):
    found = CATALOGUE[code]
    with translation.override("zh-hans"):
        title, next_step = translation.gettext(found.title), translation.gettext(found.next_step)
    assert CJK.search(title) and CJK.search(next_step)
    assert set(found.links) <= catalogue.LINKS


@pytest.mark.parametrize("code", sorted(PROBLEM_MESSAGES))
def test_every_roi_problem_template_reads_in_both_languages(code):
    for reason, template in PROBLEM_MESSAGES[code].items():
        params = {
            **_sample(template),
            "kind": "line" if reason == "line" else "polygon",
            "number": 2,
            "name": "door",
        }
        problem = {"code": code, "reason": reason, "params": params}
        with translation.override("en"):
            english = roi_for_reader({"problems": [problem]})["problems"][0]
        with translation.override("zh-hans"):
            chinese = roi_for_reader({"problems": [problem]})["problems"][0]
        assert english["code"] == chinese["code"] == code
        assert not CJK.search(english["message"]) and CJK.search(chinese["message"])
        if "%(shape)s" in template:
            assert "'door'" in english["message"] and "'door'" in chinese["message"]


def test_roi_problems_are_data_until_they_are_read():
    roi = normalise_roi({"polygons": [{"data": [[0, 0], [1, 1]], "name": "door"}]})
    assert roi["problems"] == [
        {
            "code": "too_few_points",
            "reason": "polygon",
            "params": {"kind": "polygon", "number": 1, "name": "door", "count": 2},
        }
    ]
    with translation.override("en"):
        assert roi_for_reader(roi)["problems"] == [
            {
                "code": "too_few_points",
                "message": (
                    "Polygon 1 ('door') has 2 point(s); a polygon needs at least 3. Not drawn."
                ),
            }
        ]


def test_a_message_with_a_missing_param_still_reads():
    with translation.override("en"):
        assert Message("invalid_state").render() == "Unknown state “?”. Choose one of: ?."
        assert Message("not_found", reason="no-such-reason").render() == "Not found."
        assert Message("no-such-code").render() == "The VAS upstream call failed. Try again later."


def test_upstream_words_and_the_wait_are_added_to_the_catalogues_message():
    error = vas_errors.error_for_status(
        429, b'{"error_code": "APIGW.0308", "error_msg": "throttled"}', retry_after=2.2
    )
    with translation.override("en"):
        assert error_text(error) == (
            "The VAS upstream is rate limiting the portal's requests (HTTP 429). "
            "Upstream said: APIGW.0308 throttled Wait 3 seconds before retrying."
        )
        assert error_text(error, with_retry=False).endswith("Upstream said: APIGW.0308 throttled")
    assert (
        str(error) == "upstream_unavailable (rate_limited): upstream said 429 APIGW.0308 throttled"
    )


def test_one_retry_after_value_rounded_up_and_never_zero():
    headers: dict[str, str] = {}
    catalogue.set_retry_after(headers, 0.2)
    assert headers == {"Retry-After": "1"}
    catalogue.set_retry_after(headers, 7.01)
    assert headers == {"Retry-After": "8"}
    catalogue.set_retry_after(headers := {}, None)
    assert headers == {}


# --------------------------------------------------------------------------- stored texts


def test_a_stored_error_is_code_params_and_the_upstreams_words_never_a_sentence():
    error = vas_errors.error_for_status(503, b'{"error_code": "IVA.0010", "error_msg": "down"}')
    stored = stored_error(error)
    assert stored == {
        "code": "upstream_unavailable",
        "reason": "server_error",
        "params": {"status": 503},
        "upstream": {"error_code": "IVA.0010", "error_msg": "down"},
    }
    with translation.override("en"):
        assert stored_text(stored) == (
            "The VAS upstream failed (HTTP 503) even after retrying. Try again in a moment. "
            "Upstream said: IVA.0010 down"
        )
    with translation.override("zh-hans"):
        assert stored_text(stored) == (
            "VAS 上游服务处理失败（HTTP 503），重试后仍未成功。请稍后再试。上游返回：IVA.0010 down"
        )
    assert stored_text({}) == "" and stored_text("an old English text") == ""


def _assert_no_sentence(stored: dict) -> None:
    assert set(stored) <= {"code", "reason", "params", "upstream"}
    assert stored["code"] in CATALOGUE or stored["code"] in NOTICES
    for value in stored["params"].values():
        assert not (isinstance(value, str) and " " in value), stored  # data, not words


@pytest.mark.django_db
@pytest.mark.integration
def test_a_connection_check_is_stored_as_code_and_params_and_read_in_both_languages(
    client, alice, sim_project
):
    client.force_login(alice)
    url = f"/api/v1/projects/{sim_project.public_id}/check/"
    en = client.post(url, **EN).json()
    sim_project.refresh_from_db()
    stored = sim_project.last_check_result
    _assert_no_sentence(stored)
    assert stored["code"] == "connected" and stored["params"]["service"] == "c-face-edge"
    count = stored["params"]["count"]
    assert en["ok"] is True
    assert en["message"] == f"Connected: {count} tasks in service c-face-edge."
    zh = client.get(f"/api/v1/projects/{sim_project.public_id}/", **ZH).json()["last_check"]
    assert zh["message"] == f"连接成功：服务 c-face-edge 中有 {count} 个作业。"
    page = client.get(f"/projects/{sim_project.public_id}/", **ZH).content.decode()
    assert f"连接成功：服务 c-face-edge 中有 {count} 个作业。" in page


@pytest.mark.django_db
@pytest.mark.integration
def test_a_failed_check_is_stored_as_the_error_code_and_read_in_both_languages(
    client, alice, sim_project, simulator
):
    simulator.set_fault("list", "401")
    client.force_login(alice)
    response = client.post(f"/projects/{sim_project.public_id}/check/", follow=True, **ZH)
    assert "连接失败：VAS 上游服务拒绝了该项目的凭证。" in response.content.decode()
    sim_project.refresh_from_db()
    stored = sim_project.last_check_result
    _assert_no_sentence(stored)
    assert stored["code"] == "upstream_auth_failed" and sim_project.last_check_ok is False
    en = client.get(f"/api/v1/projects/{sim_project.public_id}/", **EN).json()["last_check"]
    assert en["ok"] is False
    assert en["message"].startswith("The VAS upstream refused the project's credentials.")


@pytest.mark.django_db
def test_undecryptable_credentials_are_stored_as_code_and_the_projects_name(settings, project):
    from cryptography.fernet import Fernet

    from tasks.services.projects import project_check

    settings.PORTAL_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    project.refresh_from_db()
    project_check(project=project)
    project.refresh_from_db()
    assert project.last_check_result == {
        "code": "credentials_unavailable",
        "reason": "undecryptable",
        "params": {"name": "Lobby cameras"},
    }
    with translation.override("zh-hans"):
        assert "Lobby cameras" in stored_text(project.last_check_result)
        assert CJK.search(stored_text(project.last_check_result))


@pytest.mark.parametrize(
    ("old", "ok", "stored"),
    [
        ("", None, {}),
        (
            "Connected: 1 task in service c-face-edge.",
            True,
            {"code": "connected", "params": {"count": 1, "service": "c-face-edge"}},
        ),
        (
            "The VAS upstream refused the project's credentials. Ask a project admin to check or "
            "replace them. Upstream said: APIGW.0301 verify aksk signature fail",
            False,
            {
                "code": "upstream_auth_failed",
                "params": {},
                "upstream": {"error_msg": "APIGW.0301 verify aksk signature fail"},
            },
        ),
        ("The VAS upstream did not answer the request in time.", False, None),
        ("Something nobody wrote", False, {"code": "upstream_error", "params": {}}),
    ],
)
def test_the_migration_turns_old_english_check_messages_into_codes(old, ok, stored):
    migration = importlib.import_module("tasks.migrations.0005_stored_message_codes")
    converted = migration.stored_result(old, ok)
    if stored is None:
        assert converted == {"code": "upstream_timeout", "params": {}}
    else:
        assert converted == stored
    if converted:
        with translation.override("en"):
            assert stored_text(converted)


# ------------------------------------------------------------------ one error, both surfaces


@pytest.mark.django_db
@pytest.mark.integration
def test_a_task_never_fetched_is_not_found_on_the_page_and_in_the_api(client, bob, sim_project):
    client.force_login(bob)
    path = f"/projects/{sim_project.public_id}/services/c-face-edge/tasks/{'e' * 32}"
    page = client.get(path + "/history/", **EN)
    api = client.get("/api/v1" + path + "/snapshots/", **EN)
    assert page.status_code == api.status_code == 404
    assert 'data-error-code="not_found"' in page.content.decode()
    assert api.json()["error"] == {
        "code": "not_found",
        "message": (
            "The portal has not fetched this task yet, so it has no history. Open the task first."
        ),
    }
    zh = client.get("/api/v1" + path + "/snapshots/", **ZH).json()["error"]
    assert zh["code"] == "not_found" and CJK.search(zh["message"])


@pytest.mark.django_db
def test_a_missing_member_is_one_error_on_both_surfaces(client, alice, project):
    client.force_login(alice)
    api = client.delete(f"/api/v1/projects/{project.public_id}/members/nobody/", **EN)
    assert api.status_code == 404
    assert api.json()["error"] == {
        "code": "not_found",
        "message": "No such member of this project.",
    }
    page = client.post(f"/projects/{project.public_id}/members/nobody/remove/")
    assert page.status_code == 404


def test_portal_errors_carry_no_words_and_take_their_status_from_the_catalogue():
    error = PortalError("throttled", reason="refresh", retry_after=4)
    assert error.http_status == 429 and str(error) == "throttled (refresh)"
    with translation.override("en"):
        assert error_text(error) == (
            "Refresh asked too often; the cached copy is still shown. "
            "Wait 4 seconds before retrying."
        )
