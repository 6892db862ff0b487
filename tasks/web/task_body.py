"""The task detail page's body: everything drawn from the task document itself (overview, input,
output, service configuration, region of interest, raw JSON).

It depends only on the stored version (snapshot) and the language, so it is rendered once per
pair and kept in the cache for BODY_TTL seconds next to the task: a warm page renders only its
frame (header, source line, buttons). The relative ages in it ("3 days ago") can be up to
BODY_TTL old; the page script keeps them current anyway.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from tasks.caching.read import CacheRead
from tasks.errors import roi_for_reader
from tasks.roi import MAX_POINTS_FOR_CROSSING_CHECK, is_self_intersecting, polygon_area
from tasks.services.task_fetch import TaskResult
from tasks.vas.parsing import REDACTED, SERVICE_CONFIG_KEYS, TaskView
from tasks.web import display
from tasks.web.templatetags.task_extras import display_value, masked_headers

#: Longest value shown inline in tables; the raw JSON has the rest.
MAX_INLINE = 300
BODY_TTL = 60


def body_cache_key(task_key: str, language: str) -> str:
    """Where the body of the task cached under `task_key` is kept in this language; the value
    says which stored version it shows, so the key is known before the task is read."""
    return f"taskbody:{task_key}:{language}"


def task_body_html(
    result: TaskResult,
    *,
    task_key: str | None,
    service: str,
    task_id: str,
    view: TaskView,
    frame_url: str | None = None,
    cached: CacheRead | None = None,
) -> SafeString:
    """The body of `result`, from the cache when it holds this version's (from the request's read,
    `cached`, when that read it); `task_key=None` for a result that is not the task's cached one
    (an older stored version): rendered, not kept."""
    language = translation.get_language()
    snapshot_id = result.meta.get("snapshot_id")
    # The body shows the version and the frame under its ROI (a reference still may come or go).
    frame = result.roi.get("frame") or {}
    version = (snapshot_id, frame.get("width"), frame.get("height"), frame.get("assumed"))
    key = body_cache_key(task_key, language) if task_key and snapshot_id else None
    kept = None
    if key:
        found = cached.get_many([key]) if cached is not None else None
        kept = found.get(key) if found is not None else cache.get(key)
    if kept is not None and isinstance(kept[0], tuple | list) and tuple(kept[0]) == version:
        return mark_safe(kept[1])  # noqa: S308 - our own template rendered it, escaping every value
    html = render_to_string(
        "tasks/_task_body.html",
        {
            **_body_context(result, service=service, task_id=task_id, view=view, language=language),
            # The reference still under the canvas, when the ROI's frame is real.
            "frame_url": frame_url if frame.get("assumed") is False else None,
        },
    )
    if key:
        cache.set(key, (version, html), BODY_TTL)
    return mark_safe(html)  # noqa: S308 - as above


def service_title(titles: dict[str, str], language: str) -> str:
    """The service's title in `language`, else in the other language, else any title given.

    The upstream may send one language only (`{"en": "…"}`, `"zh": null`): a template filter
    argument naming a missing key raised VariableDoesNotExist, a 500 on every version shown."""
    order = ("zh", "en") if language.startswith("zh") else ("en", "zh")
    for key in (*order, *titles):
        if titles.get(key):
            return titles[key]
    return ""


def _body_context(
    result: TaskResult, *, service: str, task_id: str, view: TaskView, language: str
) -> dict[str, Any]:
    roi = roi_for_reader(result.roi)
    return {
        "LANGUAGE_CODE": language,
        "service": service,
        "task_id": task_id,
        "task": view,
        "service_title": service_title(view.service_title, language),
        "config_items": _config_items(view.service_config_common),
        "outputs": _outputs(view),
        "inputs": _inputs(view),
        "vcn": _fields(view.input_vcn) if view.input_vcn else [],
        "timing": _fields(view.timing) if view.timing else [],
        "hosting": _fields(view.hosting_result, skip=("data",)) if view.hosting_result else [],
        "roi": roi,
        "roi_rows": _roi_rows(roi),
        "roi_label": _roi_label(roi),
        "roi_strings": _roi_strings(),
        "raw_json": json.dumps(result.task, indent=2, ensure_ascii=False, sort_keys=True),
    }


def inline(value: Any) -> str:
    text = display_value(value)
    return text if len(text) <= MAX_INLINE else text[: MAX_INLINE - 1] + "…"


def _fields(item: dict[str, Any], *, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    out = []
    for key, value in item.items():
        if key in skip:
            continue
        if key in ("password", "token", "secret"):
            value = REDACTED
        out.append((str(key), inline(value)))
    return out


def _config_items(common: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for key, value in common.items():
        known = SERVICE_CONFIG_KEYS.get(key)
        items.append(
            {
                "key": key,
                "value": inline(value),
                "known": known is not None,
                "label": _(known[0]) if known else "",
                "unit": display.unit_label(known[1]) if known else "",
                "help": _(known[2]) if known else "",
            }
        )
    return items


def _outputs(view: TaskView) -> list[dict[str, Any]]:
    outputs = []
    for kind, out in view.outputs.items():
        categories = out.get("data_category")
        outputs.append(
            {
                "kind": kind,
                "fields": _fields(out, skip=("data_category", "headers")),
                "headers": masked_headers(out.get("headers")),
                "categories": [display_value(c) for c in categories]
                if isinstance(categories, list)
                else ([] if categories is None else [display_value(categories)]),
            }
        )
    return outputs


def _inputs(view: TaskView) -> list[dict[str, Any]]:
    return [
        {"fields": _fields(item, skip=("headers",)), "headers": masked_headers(item.get("headers"))}
        for item in view.inputs
    ]


def _line_role(shape: dict[str, Any]) -> str:
    props: dict[str, Any] = shape["properties"] if isinstance(shape.get("properties"), dict) else {}
    kind = props.get("type")
    if kind in (0, "0"):
        return _("approach line")
    if kind in (1, "1"):
        return _("leaving line")
    return _("line")


def _roi_rows(roi: dict[str, Any]) -> list[dict[str, Any]]:
    frame = roi.get("frame") or {}
    frame_area = (frame.get("width") or 0) * (frame.get("height") or 0)
    rows = []
    for index, shape in enumerate(roi.get("shapes") or []):
        points = shape.get("points") or []
        polygon = shape.get("kind") == "polygon"
        # The shoelace area of a polygon whose edges cross counts parts twice: not shown.
        crossing = (
            polygon
            and len(points) <= MAX_POINTS_FOR_CROSSING_CHECK
            and is_self_intersecting(points)
        )
        area = polygon_area(points) if polygon and not crossing else None
        rows.append(
            {
                "index": index,
                "number": index + 1,
                "swatch": index % 12,
                "kind": _("polygon") if polygon else _line_role(shape),
                "name": shape.get("name") or "",
                "points": " ".join(f"({display_value(x)}, {display_value(y)})" for x, y in points),
                "point_count": len(points),
                "area": round(area) if area is not None else None,
                "crossing": crossing,
                "percent": round(100 * area / frame_area, 1) if area and frame_area else None,
                "properties": display_value(shape["properties"]) if shape.get("properties") else "",
            }
        )
    return rows


def _roi_label(roi: dict[str, Any]) -> str:
    frame = roi.get("frame") or {}
    shapes = roi.get("shapes") or []
    polygons = sum(1 for s in shapes if s.get("kind") == "polygon")
    lines = len(shapes) - polygons
    size = {"w": frame.get("width"), "h": frame.get("height")}
    if not shapes:
        if roi.get("whole_frame"):
            return _("Region of interest: the whole frame (assumed %(w)s×%(h)s).") % size
        return _("Region of interest: nothing could be drawn (assumed %(w)s×%(h)s frame).") % size
    return _(
        "Region of interest on an assumed %(w)s×%(h)s frame: %(polygons)d polygon(s) and "
        "%(lines)d line(s)."
    ) % {**size, "polygons": polygons, "lines": lines}


def _roi_strings() -> dict[str, str]:
    """The canvas' own words, translated here so the script holds none."""
    return {
        "whole_frame": _("Whole frame"),
        "assumed": _("(assumed)"),
        "approach": _("approach line"),
        "leave": _("leaving line"),
        "line": _("line"),
        "polygon": _("polygon"),
        "min_size": _("min"),
        "max_size": _("max"),
        "copied": _("Coordinates copied to the clipboard."),
        "copy_failed": _("Copy failed: select the coordinates in the table instead."),
        "png_ready": _("PNG downloaded."),
        "png_failed": _("The image could not be made."),
    }
