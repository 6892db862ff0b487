"""The OpenAPI document: valid, complete, served offline, true to the live API (schemathesis)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tasks.services.task_fetch import task_fetch
from tests.api_fixtures import token_for
from vassim.simulator import SEED_TASK_ID

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/auth/logout/",
        "/api/v1/projects/",
        "/api/v1/projects/{project}/",
        "/api/v1/projects/{project}/check/",
        "/api/v1/projects/{project}/members/",
        "/api/v1/projects/{project}/members/{username}/",
        "/api/v1/projects/{project}/tasks/",
        "/api/v1/projects/{project}/services/{service}/tasks/",
        "/api/v1/projects/{project}/services/{service}/tasks/{task_id}/",
        "/api/v1/projects/{project}/services/{service}/tasks/{task_id}/roi/",
        "/api/v1/projects/{project}/services/{service}/tasks/{task_id}/watch/",
        "/api/v1/projects/{project}/services/{service}/tasks/{task_id}/snapshots/",
        "/api/v1/projects/{project}/services/{service}/tasks/{task_id}/snapshots/{snapshot}/",
    ):
        assert f"  {path}:" in text, path


def test_the_schema_documents_errors_and_task_examples(client):
    schema = client.get("/api/schema/?format=json").json()
    task = schema["paths"]["/api/v1/projects/{project}/services/{service}/tasks/{task_id}/"]["get"]
    assert {"200", "400", "401", "404", "409", "429", "502", "503", "504"} <= set(task["responses"])
    ok = task["responses"]["200"]["content"]["application/json"]
    assert {"A task", "A stale copy (upstream failed)"} <= {
        example["summary"] for example in ok["examples"].values()
    }
    unavailable = task["responses"]["503"]
    assert "Retry-After" in unavailable["headers"]
    assert any(
        e["value"]["error"]["code"] == "upstream_unavailable"
        for e in unavailable["content"]["application/json"]["examples"].values()
    )
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            errors = [code for code in operation["responses"] if code.startswith(("4", "5"))]
            assert errors, f"{method} {path} documents no error"
            if "basicAuth" not in str(operation.get("security")):
                assert "401" in operation["responses"], f"{method} {path}"


def test_the_docs_page_uses_only_our_own_static_files(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls
    for url in urls:
        assert url.startswith("/"), f"outside resource {url}"
        assert client.get(url).status_code == 200, url
    assert "<script>" not in html  # the CSP forbids inline scripts
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_or_schema_violation(
    live_server, sim_project, vias_project, superuser, tmp_path
):
    """GET endpoints and project creation, authenticated, against the live server."""
    task_fetch(project=sim_project, service="c-face-edge", task_id=SEED_TASK_ID)
    config = tmp_path / "schemathesis.toml"
    # Path parameters land on a real project, so task routes reach the simulator.
    config.write_text(
        "[generation]\nwith-security-parameters = false\n"
        f'[parameters]\n"path.project" = "{sim_project.public_id}"\n'
    )
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Token {token_for(superuser)}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        # GET endpoints and project creation: no deletes, edits, watches, checks or logouts.
        "--exclude-operation-id-regex",
        "^(v1_auth_.*|.*_check_create|.*_members_create|.*_update|.*_destroy)$",
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        "10",
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "15",
        "--no-shrink",
        "--suppress-health-check",
        "all",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
