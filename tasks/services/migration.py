"""Reads for administrators moving from VAS to VIAS: what a VAS task becomes, and a project's VAS
and VIAS tasks side by side by name. No upstream call: the tasks the portal has fetched."""

from __future__ import annotations

from typing import Any

from tasks.models import CloudProject, TrackedTask
from tasks.vas import VIAS_SERVICE
from tasks.vas.vias import vas_to_vias

#: A side-by-side table is bounded: the tracked tasks of a project, newest first.
MAX_PAIRS = 500


def migration_fields(*, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """For a VAS task document, each field the VAS → VIAS differences table maps (VAS-API.md
    §10), with its value and what it becomes in VIAS."""
    return vas_to_vias(payload)


def migration_pairs(*, project: CloudProject) -> list[dict[str, Any]]:
    """The project's tracked VAS and VIAS tasks matched by name: ``[{"name", "vas": [tracked],
    "vias": [tracked]}]``, names with both first, then by name. A name may have several tasks
    on either side (names are not unique upstream)."""
    rows: dict[str, dict[str, Any]] = {}
    tracked = TrackedTask.objects.filter(project=project).order_by("-last_fetched", "-id")[
        :MAX_PAIRS
    ]
    for task in tracked:
        key = (task.name or task.task_id).strip()
        row = rows.setdefault(key.casefold(), {"name": key, "vas": [], "vias": []})
        row["vias" if task.service == VIAS_SERVICE else "vas"].append(task)
    pairs = list(rows.values())
    pairs.sort(key=lambda r: (not (r["vas"] and r["vias"]), r["name"].casefold()))
    return pairs
