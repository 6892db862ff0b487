"""The fleet view: badge keys, each task's payload problems, and the indexes health, needs
attention and the dashboard read through."""

import secrets

from django.db import migrations, models

import tasks.models


def fill_badge_keys(apps, schema_editor):
    CloudProject = apps.get_model("tasks", "CloudProject")
    for project in CloudProject.objects.filter(badge_key__isnull=True).only("pk"):
        project.badge_key = secrets.token_urlsafe(24)
        project.save(update_fields=["badge_key"])


def fill_payload_problems(apps, schema_editor):
    # The stored tasks' newest versions, checked once; later versions are checked as they arrive.
    from tasks.services.attention import payload_problem_codes

    TrackedTask = apps.get_model("tasks", "TrackedTask")
    TaskSnapshot = apps.get_model("tasks", "TaskSnapshot")
    for tracked in TrackedTask.objects.only("pk", "service").iterator():
        newest = (
            TaskSnapshot.objects.filter(task_id=tracked.pk).order_by("-seq").only("payload").first()
        )
        if newest is None:
            continue
        codes = " ".join(payload_problem_codes(newest.payload, tracked.service))[:500]
        if codes:
            TrackedTask.objects.filter(pk=tracked.pk).update(payload_problems=codes)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0010_monitor"),
    ]

    operations = [
        migrations.AddField(
            model_name="cloudproject",
            name="badge_key",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(fill_badge_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="cloudproject",
            name="badge_key",
            field=models.CharField(
                default=tasks.models.new_badge_key, editable=False, max_length=64, unique=True
            ),
        ),
        migrations.AddField(
            model_name="trackedtask",
            name="payload_problems",
            field=models.CharField(blank=True, default="", editable=False, max_length=500),
        ),
        migrations.RunPython(fill_payload_problems, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="trackedtask",
            index=models.Index(
                fields=["project", "state"],
                include=("watched", "last_fetched", "gone_at"),
                name="tracked_project_state",
            ),
        ),
        migrations.AddIndex(
            model_name="trackedtask",
            index=models.Index(
                condition=models.Q(("payload_problems", ""), _negated=True),
                fields=["project"],
                name="tracked_payload_problems",
            ),
        ),
        migrations.AddIndex(
            model_name="trackedtask",
            index=models.Index(
                condition=models.Q(("muted_until__isnull", False)),
                fields=["project", "muted_until"],
                name="tracked_muted",
            ),
        ),
        migrations.AddIndex(
            model_name="tasksnapshot",
            index=models.Index(fields=["task", "last_seen"], name="snapshot_task_last_seen"),
        ),
    ]
