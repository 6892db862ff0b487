"""Needs attention: what an admin should fix, worked out from what the portal already stores.

Per task: problems of the ROI (tasks.roi's reading and tasks.roi_geometry's checks), a webhook
output URL that is not HTTPS (both read from the newest version once, when it is stored:
`TrackedTask.payload_problems`), a watched task not fetched for more than 3 poll intervals, a
muted task whose mute has ended. Per project: a static token that expires within 7 days, a failed
last connection check. Each finding links to the page where it is fixed.

Bounded: two queries for any number of projects and tasks (the counts, then the listed rows).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from tasks import roi_geometry
from tasks.links import task_url
from tasks.models import AuthType, CloudProject, TrackedTask
from tasks.roi import normalise_roi
from tasks.services.health import poll_interval_of

TOKEN_WARNING = timedelta(days=7)
#: A watched task not fetched for this many poll intervals is late.
LATE_INTERVALS = 3
#: Findings listed per page or answer; the counts are always complete.
DEFAULT_LIMIT = 50

KINDS = ("roi", "webhook_not_https", "not_polled", "mute_ended", "token_expiring", "check_failed")


# ---------------------------------------------------------------------------- from the payload


def _roi_of(payload: dict[str, Any], frame: tuple[int, int] | None) -> dict[str, Any]:
    """The normalised ROI of a VAS (`service_config.common`) or VIAS (`config.common`) task,
    against the reference still's frame when one is stored."""
    for section in ("service_config", "config"):
        config = payload.get(section)
        common = config.get("common") if isinstance(config, dict) else None
        if isinstance(common, dict):
            return normalise_roi(common.get("target_roi"), common, frame)
    return normalise_roi(None, {}, frame)


def _geometry_codes(roi: dict[str, Any], service: str | None) -> list[str]:
    """What tasks.roi_geometry (the editor's and the API's checks) finds in the drawn shapes:
    self-crossing, zero area, duplicate names, too many shapes for the service …"""
    frame = roi.get("frame") if isinstance(roi.get("frame"), dict) else None
    real_frame = frame if frame and frame.get("assumed") is False else None
    found = roi_geometry.shape_problems(
        roi.get("shapes") or [], frame=real_frame, limits=roi_geometry.limits_for(service)
    )
    return [str(p["code"]) for p in found]


def payload_problem_codes(
    payload: Any, service: str | None = None, frame: tuple[int, int] | None = None
) -> list[str]:
    """What needs attention in one task document, as stable codes: `roi:<problem code>` for each
    kind of ROI problem (what could not be read, and what the geometry checks refuse),
    `webhook_not_https`. Pure; never raises."""
    if not isinstance(payload, dict):
        return []
    codes: list[str] = []
    roi = _roi_of(payload, frame)
    roi_codes = [p["code"] for p in roi.get("problems", [])] + _geometry_codes(roi, service)
    codes += [f"roi:{code}" for code in dict.fromkeys(roi_codes)]
    output = payload.get("output")
    webhook = output.get("webhook") if isinstance(output, dict) else None
    url = webhook.get("url") if isinstance(webhook, dict) else None
    if isinstance(url, str) and url and urlsplit(url.strip()).scheme.lower() != "https":
        codes.append("webhook_not_https")
    return codes


def payload_problems_field(
    payload: Any, service: str | None = None, frame: tuple[int, int] | None = None
) -> str:
    """The value stored in TrackedTask.payload_problems for a new version."""
    return " ".join(payload_problem_codes(payload, service, frame))[:500]


# ---------------------------------------------------------------------------- the findings


@dataclass(frozen=True)
class Finding:
    kind: str
    project: CloudProject
    message: str
    url: str
    link_label: str
    task: TrackedTask | None = None
    when: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        task = self.task
        return {
            "kind": self.kind,
            "project": str(self.project.public_id),
            "message": self.message,
            "url": self.url,
            "task": None
            if task is None
            else {"service": task.service, "id": task.task_id, "name": task.name},
            "when": self.when.isoformat().replace("+00:00", "Z") if self.when else None,
        }


@dataclass
class Attention:
    findings: list[Finding] = field(default_factory=list)
    #: project pk -> kind -> count (complete, however many findings are listed).
    counts: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def kind_totals(self) -> list[tuple[str, int]]:
        """(kind, count) over every project, in KINDS order."""
        totals: dict[str, int] = {}
        for kinds in self.counts.values():
            for kind, n in kinds.items():
                totals[kind] = totals.get(kind, 0) + n
        return [(kind, totals[kind]) for kind in KINDS if totals.get(kind)]

    def total(self, project: CloudProject | None = None) -> int:
        if project is not None:
            return sum(self.counts.get(project.pk, {}).values())
        return sum(sum(kinds.values()) for kinds in self.counts.values())


def _task_url(task: TrackedTask, project: CloudProject, anchor: str = "") -> str:
    return task_url(project, task.service, task.task_id) + anchor


def _has_mute() -> bool:
    """Whether the monitor's TrackedTask.muted_until exists yet."""
    return any(f.name == "muted_until" for f in TrackedTask._meta.get_fields())


def _late_q(projects: list[CloudProject], now: datetime) -> Q:
    """Watched tasks last fetched more than LATE_INTERVALS poll intervals ago: one OR term per
    distinct interval, so one query whatever the number of projects."""
    by_interval: dict[int, list[int]] = defaultdict(list)
    for project in projects:
        by_interval[poll_interval_of(project)].append(project.pk)
    late = Q(pk__in=[])
    for interval, pks in by_interval.items():
        cutoff = now - timedelta(seconds=LATE_INTERVALS * interval)
        late |= Q(project_id__in=pks, last_fetched__lt=cutoff)
    return Q(watched=True) & late


def _mute_ended_q(now: datetime) -> Q | None:
    if not _has_mute():
        return None
    return Q(muted_until__isnull=False, muted_until__lt=now)


def attention_for_projects(
    *, projects: list[CloudProject], now: datetime, limit: int = DEFAULT_LIMIT, admin_pks=None
) -> Attention:
    """The findings of `projects` (already scoped to the user): complete counts per project and
    kind, and the first `limit` findings, project-level ones first. `admin_pks`: the projects
    the user administers (their links go to the edit page)."""
    attention = Attention()
    if not projects:
        return attention
    admin_pks = set(admin_pks or ())
    by_pk = {p.pk: p for p in projects}
    for project in projects:  # project-level findings: from the rows already in hand
        for finding in _project_findings(project, now, admin=project.pk in admin_pks):
            attention.counts[project.pk][finding.kind] = 1
            attention.findings.append(finding)

    tasks = TrackedTask.objects.filter(project_id__in=list(by_pk), gone_at__isnull=True)
    # One (count, list) pair of queries per group, each served by its own index, so only the
    # rows with a finding are read: "tracked_payload_problems" (partial), "tracked_recent"
    # (project, last_fetched) for the late ones, "tracked_muted" (partial) for the mutes.
    groups: list[tuple[str, Q, dict[str, Q]]] = [
        (
            "payload",
            ~Q(payload_problems=""),
            {
                "roi": Q(payload_problems__contains="roi:"),
                "webhook_not_https": Q(payload_problems__contains="webhook_not_https"),
            },
        ),
        ("late", _late_q(projects, now), {"not_polled": Q()}),
    ]
    mute = _mute_ended_q(now)
    if mute is not None:
        groups.append(("mute", mute, {"mute_ended": Q()}))
    listed: list[Finding] = []
    room = max(0, limit - len(attention.findings))
    for group, where, kinds in groups:
        counted = (
            tasks.filter(where)
            .values("project_id")
            .annotate(**{kind: Count("pk", filter=q or None) for kind, q in kinds.items()})
        )
        for row in counted:
            for kind in kinds:
                if row[kind]:
                    attention.counts[row["project_id"]][kind] = row[kind]
        if room:
            rows = tasks.filter(where).defer("first_seen", "last_changed", "gone_at")
            for task in rows.order_by("project__name", "name", "task_id")[:room]:
                project = by_pk[task.project_id]
                task.project = project
                listed += _task_findings(task, project, now, group=group)
    listed.sort(key=lambda f: (f.project.name, f.task.name if f.task else "", KINDS.index(f.kind)))
    attention.findings = (attention.findings + listed)[:limit]
    return attention


def _project_findings(project: CloudProject, now: datetime, *, admin: bool) -> list[Finding]:
    findings: list[Finding] = []
    edit = reverse("project_edit", args=[project.public_id])
    page = reverse("project_detail", args=[project.public_id])
    fix = edit if admin else page
    expires = project.token_expires_at
    is_token = project.auth_type == AuthType.TOKEN
    if is_token and expires is not None and expires < now + TOKEN_WARNING:
        message = (
            _("The project's token expired; paste a new one.")
            if expires <= now
            else _("The project's token expires within 7 days; paste a new one before it does.")
        )
        findings.append(
            Finding("token_expiring", project, message, fix, _("Replace the token"), when=expires)
        )
    if project.last_check_ok is False:
        findings.append(
            Finding(
                "check_failed",
                project,
                _(
                    "The last connection check failed; fix the credentials or endpoint, then test "
                    "again."
                ),
                page,
                _("Test the connection"),
                when=project.last_check_at,
            )
        )
    return findings


def _task_findings(
    task: TrackedTask, project: CloudProject, now: datetime, *, group: str
) -> list[Finding]:
    findings: list[Finding] = []
    if group == "late":
        return [
            Finding(
                "not_polled",
                project,
                _(
                    "Watched, but not fetched for more than 3 poll intervals: is the worker "
                    "(runworker or poll_tasks) running?"
                ),
                _task_url(task, project),
                _("Open the task"),
                task=task,
                when=task.last_fetched,
            )
        ]
    if group == "mute":
        return [
            Finding(
                "mute_ended",
                project,
                _("The mute has ended: notifications are sent again. Unmute it, or mute it again."),
                _task_url(task, project),
                _("Open the task"),
                task=task,
                when=task.muted_until,
            )
        ]
    codes = task.payload_problems.split()
    roi_codes = [code.removeprefix("roi:") for code in codes if code.startswith("roi:")]
    if roi_codes:
        findings.append(
            Finding(
                "roi",
                project,
                _(
                    "The ROI has problems (%(codes)s): shapes are missing from what the task "
                    "analyses."
                )
                % {"codes": ", ".join(roi_codes)},
                _task_url(task, project, "#roi"),
                _("See the ROI"),
                task=task,
            )
        )
    if "webhook_not_https" in codes:
        findings.append(
            Finding(
                "webhook_not_https",
                project,
                _(
                    "The webhook output URL is not HTTPS: results travel unencrypted. Change it in "
                    "the task's output."
                ),
                _task_url(task, project, "#output"),
                _("See the output"),
                task=task,
            )
        )
    return findings
