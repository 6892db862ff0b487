"""Normalise a task's ``target_roi`` into the contract's ``roi`` object (pure, no Django).

The API gives polygons and lines in frame pixels but not the camera's resolution, so the frame is
*assumed*: the smallest of 1920×1080, 2560×1440 and 3840×2160 holding every point. Whatever cannot
be used is reported in ``problems`` as data (a stable ``code``, the ``params`` of its message and,
where one code has several messages, a ``reason``); the words are in `PROBLEM_MESSAGES`, marked for
translation, and the pages and the API render them in the reader's language
(``tasks.errors.roi_for_reader``). This module never raises, whatever it is given.
"""

from __future__ import annotations

import json
import math
from typing import Any

# The geometry lives in one module shared with the editor and the API's validation.
from tasks.roi_geometry import is_self_intersecting as is_self_intersecting
from tasks.roi_geometry import polygon_area as polygon_area

FRAMES: tuple[tuple[int, int], ...] = ((1920, 1080), (2560, 1440), (3840, 2160))
MAX_POINTS = 10_000
MAX_SHAPES = 1_000
# Beyond this a coordinate is nonsense and would overflow a float (or a canvas) downstream.
MAX_ABS_COORDINATE = 10_000_000
# Pairwise edge checks are quadratic; bigger polygons are not checked for crossings.
MAX_POINTS_FOR_CROSSING_CHECK = 200

KNOWN_TOP_KEYS = frozenset({"polygons", "lines"})
KNOWN_SHAPE_KEYS = frozenset({"data", "name", "properties"})

#: Problem codes that mean "this one shape was not drawn" (one problem per dropped shape).
DROP_CODES = frozenset(
    {
        "invalid_shape",
        "too_few_points",
        "wrong_point_count",
        "invalid_point",
        "non_numeric",
        "not_finite",
        "boolean_coordinate",
        "coordinate_too_large",
    }
)
#: Problem codes after which the remaining shapes are all skipped.
STOP_CODES = frozenset({"too_many_points", "too_many_shapes"})

Point = list[int | float]
Problem = dict[str, Any]


def gettext_noop(message: str) -> str:
    """Marks a text for the catalogue; the Django layer translates it (no Django here)."""
    return message


#: code -> reason -> the message template ("" is the code's general message). `%(shape)s` is the
#: shape's label ("Polygon 2 ('door')"), made from the `kind`, `number` and `name` params.
PROBLEM_MESSAGES: dict[str, dict[str, str]] = {
    "malformed_json": {
        "": gettext_noop(
            "target_roi is not valid JSON, so no region could be drawn. Fix the task's "
            "target_roi setting."
        )
    },
    "not_an_object": {
        "": gettext_noop(
            "target_roi should be a JSON object with 'polygons' and/or 'lines'; nothing was drawn."
        )
    },
    "invalid_shape": {
        "": gettext_noop("%(shape)s is invalid."),
        "no_points": gettext_noop("%(shape)s has no list of points; not drawn."),
        "not_an_object": gettext_noop("%(shape)s is not an object."),
    },
    "invalid_point": {
        "": gettext_noop("%(shape)s: point %(point)s is not an [x, y] pair; shape not drawn.")
    },
    "boolean_coordinate": {
        "": gettext_noop("%(shape)s: point %(point)s has a true/false coordinate; shape not drawn.")
    },
    "non_numeric": {
        "": gettext_noop(
            "%(shape)s: point %(point)s has a non-numeric coordinate; shape not drawn."
        )
    },
    "not_finite": {
        "": gettext_noop(
            "%(shape)s: point %(point)s has a NaN or infinite coordinate; shape not drawn."
        ),
        "detection": gettext_noop("%(key)s is NaN or infinite; ignored."),
    },
    "coordinate_too_large": {
        "": gettext_noop(
            "%(shape)s: point %(point)s has an absurdly large coordinate; shape not drawn."
        )
    },
    "invalid_detection_size": {
        "": gettext_noop("%(key)s is not a number; ignored."),
        "too_large": gettext_noop("%(key)s is too large; ignored."),
    },
    "min_greater_than_max": {
        "": gettext_noop(
            "detection_min_size is larger than detection_max_size, so nothing can be detected."
        )
    },
    "internal_error": {"": gettext_noop("The ROI could not be interpreted.")},
    "unknown_key": {
        "": gettext_noop("target_roi has an unknown key %(key)s."),
        "shape": gettext_noop("%(shape)s has an unknown key %(key)s."),
    },
    "invalid_shape_list": {"": gettext_noop("'%(key)s' is not a list; ignored.")},
    "too_many_shapes": {"": gettext_noop("More than %(max)s shapes; the rest are not drawn.")},
    "too_few_points": {
        "polygon": gettext_noop(
            "%(shape)s has %(count)s point(s); a polygon needs at least 3. Not drawn."
        ),
        "line": gettext_noop(
            "%(shape)s has %(count)s point(s); a line needs at least 2. Not drawn."
        ),
    },
    "wrong_point_count": {
        "": gettext_noop("%(shape)s has %(count)s points; a line has exactly 2. Not drawn.")
    },
    "too_many_points": {
        "": gettext_noop("More than %(max)s points in total; the remaining shapes are not drawn.")
    },
    "invalid_name": {"": gettext_noop("%(shape)s: name is not text.")},
    "invalid_properties": {"": gettext_noop("%(shape)s: properties is not an object.")},
    "out_of_frame": {
        "": gettext_noop(
            "%(shape)s has points outside any 3840×2160 frame (or negative); it is drawn where "
            "it is."
        ),
        # Against the task's reference still (its real size).
        "reference": gettext_noop(
            "%(shape)s has points outside the %(width)s×%(height)s reference frame (or negative); "
            "it is drawn where it is."
        ),
    },
    "self_intersecting": {
        "": gettext_noop("%(shape)s has crossing edges; the upstream expects a simple polygon.")
    },
}


def problem_template(problem: Problem) -> str:
    """The message template of a problem (its code's general one when the reason is unknown)."""
    templates = PROBLEM_MESSAGES.get(str(problem.get("code")), {})
    reason = str(problem.get("reason") or "")
    return templates.get(reason) or templates.get("") or next(iter(templates.values()), "")


def _problem(code: str, reason: str = "", /, **params: Any) -> Problem:
    problem: Problem = {"code": code, "params": params}
    if reason:
        problem["reason"] = reason
    return problem


def _clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy (no NaN/Infinity, string keys, bounded depth) of a properties value."""
    if depth > 20:
        return None
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v, depth + 1) for v in value]
    return str(value)


def _label(kind: str, index: int, name: Any) -> dict[str, Any]:
    """The params naming a shape: its kind, its number in its list and its name (if text)."""
    label: dict[str, Any] = {"kind": kind, "number": index + 1}
    if isinstance(name, str) and name:
        label["name"] = name[:60]
    return label


def _points(raw: Any, label: dict[str, Any]) -> tuple[list[Point] | None, Problem | None]:
    """Validate a shape's ``data``; returns (points, None) or (None, the problem)."""
    if not isinstance(raw, list):
        return None, _problem("invalid_shape", "no_points", **label)
    points: list[Point] = []
    for i, pt in enumerate(raw):
        if not isinstance(pt, list | tuple) or len(pt) != 2:
            return None, _problem("invalid_point", point=i + 1, **label)
        coords: Point = []
        for c in pt:
            if isinstance(c, bool):
                return None, _problem("boolean_coordinate", point=i + 1, **label)
            if not isinstance(c, int | float):
                return None, _problem("non_numeric", point=i + 1, **label)
            if isinstance(c, float) and not math.isfinite(c):
                return None, _problem("not_finite", point=i + 1, **label)
            if abs(c) > MAX_ABS_COORDINATE:
                return None, _problem("coordinate_too_large", point=i + 1, **label)
            # Integral floats (e.g. 100.0) are shown as integers, the API's own unit.
            coords.append(int(c) if isinstance(c, float) and c.is_integer() else c)
        points.append(coords)
    return points, None


def _parse(target_roi: Any, problems: list[Problem]) -> tuple[dict[str, Any] | None, bool]:
    """Return (roi object or None, whole_frame)."""
    if target_roi is None:
        return None, True
    if isinstance(target_roi, bytes | bytearray):
        target_roi = bytes(target_roi).decode("utf-8", errors="replace")
    if isinstance(target_roi, str):
        if not target_roi.strip():
            return None, True
        try:
            target_roi = json.loads(target_roi)
        except (ValueError, RecursionError):
            problems.append(_problem("malformed_json"))
            return None, False
    if not isinstance(target_roi, dict):
        problems.append(_problem("not_an_object"))
        return None, False
    return target_roi, False


def _detection(common: Any, problems: list[Problem]) -> dict[str, int | float]:
    detection: dict[str, int | float] = {}
    if not isinstance(common, dict):
        return detection
    for key, out in (("detection_min_size", "min_size"), ("detection_max_size", "max_size")):
        if key not in common or common[key] is None:
            continue
        value = common[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(_problem("invalid_detection_size", key=key))
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(_problem("not_finite", "detection", key=key))
            continue
        if abs(value) > MAX_ABS_COORDINATE:
            problems.append(_problem("invalid_detection_size", "too_large", key=key))
            continue
        detection[out] = value
    both = "min_size" in detection and "max_size" in detection
    if both and detection["min_size"] > detection["max_size"]:
        problems.append(_problem("min_greater_than_max"))
    return detection


def normalise_roi(
    target_roi: Any, service_config_common: Any = None, frame: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Turn ``target_roi`` (JSON string, dict or None) into the contract's ``roi`` object.

    ``frame``: the (width, height) of the task's reference still, when one is stored: the frame
    is then real (``assumed: false``, ``source: "frame"``) and points outside it are problems.
    """
    problems: list[Problem] = []
    try:
        return _normalise(target_roi, service_config_common, problems, frame)
    except Exception:  # the page must render whatever the upstream sent
        problems.append(_problem("internal_error"))
        return {
            "frame": {"width": 1920, "height": 1080, "assumed": True},
            "shapes": [],
            "whole_frame": False,
            "detection": {},
            "problems": problems,
        }


def _normalise(
    target_roi: Any,
    common: Any,
    problems: list[Problem],
    real: tuple[int, int] | None = None,
) -> dict[str, Any]:
    roi, whole_frame = _parse(target_roi, problems)
    shapes: list[dict[str, Any]] = []
    out_of_frame = False
    if roi is not None:
        for key in roi:
            if key not in KNOWN_TOP_KEYS:
                problems.append(_problem("unknown_key", key=repr(str(key)[:60])))
        specified = 0
        total_points = 0
        stopped = False
        for key, kind in (("polygons", "polygon"), ("lines", "line")):
            if stopped:
                break
            items = roi.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                problems.append(_problem("invalid_shape_list", key=key))
                continue
            specified += len(items)
            for index, item in enumerate(items):
                name = item.get("name") if isinstance(item, dict) else None
                label = _label(kind, index, name)
                if len(shapes) >= MAX_SHAPES:
                    problems.append(_problem("too_many_shapes", max=MAX_SHAPES))
                    stopped = True
                    break
                if not isinstance(item, dict):
                    problems.append(_problem("invalid_shape", "not_an_object", **label))
                    continue
                points, problem = _points(item.get("data"), label)
                if problem is not None or points is None:
                    problems.append(problem or _problem("invalid_shape", **label))
                    continue
                minimum = 3 if kind == "polygon" else 2
                if len(points) < minimum:
                    problems.append(_problem("too_few_points", kind, count=len(points), **label))
                    continue
                if kind == "line" and len(points) != 2:
                    problems.append(_problem("wrong_point_count", count=len(points), **label))
                    continue
                if total_points + len(points) > MAX_POINTS:
                    problems.append(_problem("too_many_points", max=MAX_POINTS))
                    stopped = True
                    break
                total_points += len(points)
                shape: dict[str, Any] = {"kind": kind, "points": points}
                if "name" in item and item["name"] is not None:
                    if isinstance(item["name"], str):
                        shape["name"] = item["name"]
                    else:
                        problems.append(_problem("invalid_name", **label))
                if "properties" in item and item["properties"] is not None:
                    if isinstance(item["properties"], dict):
                        shape["properties"] = _clean_json(item["properties"])
                    else:
                        problems.append(_problem("invalid_properties", **label))
                for extra in item:
                    if extra not in KNOWN_SHAPE_KEYS:
                        problems.append(
                            _problem("unknown_key", "shape", key=repr(str(extra)[:60]), **label)
                        )
                limit_w, limit_h = real or FRAMES[-1]
                if any(p[0] < 0 or p[1] < 0 or p[0] > limit_w or p[1] > limit_h for p in points):
                    out_of_frame = True
                    if real:
                        problems.append(
                            _problem(
                                "out_of_frame", "reference", width=real[0], height=real[1], **label
                            )
                        )
                    else:
                        problems.append(_problem("out_of_frame", **label))
                if (
                    kind == "polygon"
                    and len(points) <= MAX_POINTS_FOR_CROSSING_CHECK
                    and is_self_intersecting(points)
                ):
                    problems.append(_problem("self_intersecting", **label))
                shapes.append(shape)
        if specified == 0 and not any(p["code"] == "invalid_shape_list" for p in problems):
            whole_frame = True  # "{}" or empty lists: no region restriction
    if real:
        frame_info: dict[str, Any] = {
            "width": real[0],
            "height": real[1],
            "assumed": False,
            "source": "frame",
        }
    else:
        frame = _frame(shapes, out_of_frame)
        frame_info = {"width": frame[0], "height": frame[1], "assumed": True}
    return {
        "frame": frame_info,
        "shapes": shapes,
        "whole_frame": whole_frame,
        "detection": _detection(common, problems),
        "problems": problems,
    }


def _frame(shapes: list[dict[str, Any]], out_of_frame: bool) -> tuple[int, int]:
    if out_of_frame:
        return FRAMES[-1]
    max_x = max((p[0] for s in shapes for p in s["points"]), default=0)
    max_y = max((p[1] for s in shapes for p in s["points"]), default=0)
    for width, height in FRAMES:
        if max_x <= width and max_y <= height:
            return width, height
    return FRAMES[-1]


def roi_for_task(payload: Any, frame: tuple[int, int] | None = None) -> dict[str, Any]:
    """The normalised ROI of a task document (its ``service_config.common``), over the reference
    still's ``frame`` (width, height) when one is stored; never raises."""
    config = payload.get("service_config") if isinstance(payload, dict) else None
    common = config.get("common") if isinstance(config, dict) else None
    if not isinstance(common, dict):
        common = {}
    return normalise_roi(common.get("target_roi"), common, frame)
