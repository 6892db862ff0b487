"""Stored texts become data: a project's last connection check is kept as a code and params (and
what the upstream said), worded in the reader's language when shown, instead of English."""

import re

from django.db import migrations, models

_CONNECTED = re.compile(r"^Connected: (\d+) tasks? in service (\S+)\.$")
_SAID = "Upstream said:"
#: How the English messages of the old client began, and the code each one meant.
_PREFIXES = (
    ("The VAS upstream refused the project's credentials", "upstream_auth_failed"),
    ("The project's credentials contain characters", "upstream_auth_failed"),
    ("IAM refused", "upstream_auth_failed"),
    ("The credentials are valid but not allowed", "upstream_forbidden"),
    ("The VAS upstream has no such task", "task_not_found"),
    ("The VAS upstream rejected the request", "upstream_bad_request"),
    ("The VAS upstream did not answer", "upstream_timeout"),
    ("The VAS upstream was too slow", "upstream_timeout"),
    ("IAM did not answer", "upstream_timeout"),
    ("The VAS upstream is rate limiting", "upstream_unavailable"),
    ("The VAS upstream failed", "upstream_unavailable"),
    ("The VAS upstream is unavailable", "upstream_unavailable"),
    ("The VAS upstream could not be reached", "upstream_unavailable"),
    ("The VAS upstream dropped", "upstream_unavailable"),
    ("The TLS connection", "upstream_unavailable"),
    ("IAM could not be reached", "upstream_unavailable"),
    ("The VAS upstream sent", "upstream_invalid_response"),
    ("The VAS upstream answered", "upstream_invalid_response"),
    ("The VAS upstream's answer is larger", "upstream_invalid_response"),
    ("IAM answered without", "upstream_invalid_response"),
    ("The endpoint resolves", "endpoint_not_allowed"),
    ("The endpoint host", "endpoint_not_allowed"),
    ("The stored credentials", "credentials_unavailable"),
    ("Project ", "credentials_unavailable"),
)


def stored_result(message: str, ok: bool | None) -> dict:
    """The old English message as code + params (best effort: an unknown text keeps only the
    fact that the check failed, as the generic upstream error)."""
    message = (message or "").strip()
    if not message:
        return {}
    connected = _CONNECTED.match(message)
    if connected:
        return {
            "code": "connected",
            "params": {"count": int(connected.group(1)), "service": connected.group(2)},
        }
    code = next((code for prefix, code in _PREFIXES if message.startswith(prefix)), None)
    result = {"code": code or ("connected" if ok else "upstream_error"), "params": {}}
    if _SAID in message:
        said = message.split(_SAID, 1)[1].strip()
        if said:
            result["upstream"] = {"error_msg": said}
    return result


def forwards(apps, schema_editor):
    CloudProject = apps.get_model("tasks", "CloudProject")
    for project in CloudProject.objects.exclude(last_check_message="").only(
        "pk", "last_check_ok", "last_check_message"
    ):
        project.last_check_result = stored_result(project.last_check_message, project.last_check_ok)
        project.save(update_fields=["last_check_result"])


class Migration(migrations.Migration):
    dependencies = [("tasks", "0004_tracked_snapshot_count")]

    operations = [
        migrations.AddField(
            model_name="cloudproject",
            name="last_check_result",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        # Backwards the old column comes back empty: the next connection test fills it again.
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(model_name="cloudproject", name="last_check_message"),
    ]
