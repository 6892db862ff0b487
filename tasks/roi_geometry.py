"""The ROI's geometry checks, pure (no Django): one module for the API's validation, the pages, the
"needs attention" findings and, mirrored line by line, the editor's script
(`static/js/roi_geometry.js`; `tests/roi_geometry_cases.json` holds the cases both must agree on).

Shapes are in the contract's normalised form: `{"kind": "polygon" | "line", "points": [[x, y],
…], "name"?: str, "properties"?: {…}}`. A problem is `{"code", "shape" (index or None),
"params"}`; `describe()` renders its English message, `MESSAGES` holds the templates the edge
translates.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: The frame checked against when the camera's size is not known: the largest assumed one.
ASSUMED_LIMIT = {"width": 3840, "height": 2160}
#: What the editor and the API accept at most, whatever the service (a sane editing bound).
MAX_SHAPES = 100
MAX_POINTS = 1000
MAX_NAME = 100
#: Pairwise edge checks are quadratic; a polygon with more points is not checked for crossings.
MAX_POINTS_FOR_CROSSING_CHECK = 200
#: Shapes a service accepts, where known (VAS-API.md §3.5, §4: the vehicle services read one
#: approach and one leaving line). Services not listed get MAX_SHAPES.
SERVICE_LIMITS: dict[str, dict[str, int]] = {
    "c-vehicle-detection-edge": {"line": 2},
    "c-vehicle-detection-cloud": {"line": 2},
}


def gettext_noop(message: str) -> str:
    return message


#: code -> message template (English; marked for the catalogue, translated at the edge).
MESSAGES: dict[str, str] = {
    "invalid_shapes": gettext_noop("The shapes must be a list."),
    "invalid_shape": gettext_noop(
        "Shape %(number)s must be a polygon or a line with a list of points."
    ),
    "invalid_point": gettext_noop(
        "Shape %(number)s: point %(point)s must be a pair of whole numbers."
    ),
    "too_few_points": gettext_noop(
        "Shape %(number)s has %(count)s point(s); a %(kind)s needs at least %(minimum)s."
    ),
    "wrong_point_count": gettext_noop("Shape %(number)s has %(count)s points; a line has 2."),
    "too_many_points": gettext_noop("Shape %(number)s has more than %(max)s points."),
    "self_intersecting": gettext_noop(
        "Shape %(number)s has edges that cross; the upstream expects a simple polygon."
    ),
    "zero_area": gettext_noop("Shape %(number)s encloses no area (its points are on one line)."),
    "zero_length": gettext_noop("Shape %(number)s is a line whose two ends are the same point."),
    "out_of_frame": gettext_noop(
        "Shape %(number)s has points outside the %(width)s×%(height)s frame."
    ),
    "duplicate_name": gettext_noop(
        "Shape %(number)s is named “%(name)s” like shape %(other)s; names must be unique."
    ),
    "invalid_name": gettext_noop(
        "Shape %(number)s: the name must be text of at most %(max)s characters."
    ),
    "invalid_properties": gettext_noop(
        "Shape %(number)s: properties must be an object; side names text of at most "
        "%(max)s characters."
    ),
    "too_many_shapes": gettext_noop(
        "Too many shapes of kind %(kind)s: %(count)s; this service accepts at most %(max)s."
    ),
}


def describe(problem: dict[str, Any], template: str | None = None) -> str:
    """The problem's message from `template` (default: the English one) and its params."""
    text = template if template is not None else MESSAGES.get(problem["code"], problem["code"])
    try:
        return text % problem.get("params", {})
    except (KeyError, TypeError, ValueError):
        return text


def polygon_area(points: Any) -> float:
    """Absolute area by the shoelace formula; 0.0 for anything that is not ≥3 numeric points."""
    try:
        pts = [(float(p[0]), float(p[1])) for p in points]
    except (TypeError, ValueError, IndexError, KeyError, OverflowError):
        return 0.0
    if len(pts) < 3:
        return 0.0
    total = 0.0
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
        total += x1 * y2 - x2 * y1
    area = abs(total) / 2.0
    return area if math.isfinite(area) else 0.0


def _orient(a: Any, b: Any, c: Any) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Any, b: Any, c: Any) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def segments_cross(p1: Any, p2: Any, q1: Any, q2: Any) -> bool:
    """Proper or touching intersection of segments p1p2 and q1q2."""
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def is_self_intersecting(points: list[Any]) -> bool:
    """Whether any two non-adjacent edges of the closed polygon cross or touch."""
    n = len(points)
    if n < 4:
        return False
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # adjacent edges share a vertex by construction
            if segments_cross(*edges[i], *edges[j]):
                return True
    return False


def collinear(points: list[Any]) -> bool:
    """Whether every point lies on one straight line (or all are the same point)."""
    first = points[0]
    other = next((p for p in points if p != first), None)
    return other is None or all(_orient(first, other, p) == 0 for p in points)


def check_frame(frame: Any) -> dict[str, int]:
    """The frame points must lie in: the real one (`assumed` false), else the largest assumed."""
    if isinstance(frame, dict) and frame.get("assumed") is False:
        width, height = frame.get("width"), frame.get("height")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            return {"width": width, "height": height}
    return dict(ASSUMED_LIMIT)


def limits_for(service: str | None) -> dict[str, int]:
    """How many polygons and lines `service` accepts."""
    known = SERVICE_LIMITS.get(service or "", {})
    return {"polygon": known.get("polygon", MAX_SHAPES), "line": known.get("line", MAX_SHAPES)}


def _whole(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and float(value).is_integer()


def _problem(code: str, shape: int | None, **params: Any) -> dict[str, Any]:
    return {"code": code, "shape": shape, "params": params}


def shape_problems(
    shapes: Any, *, frame: Any = None, limits: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """Everything that would make the shapes unusable upstream, in shape order; [] when fine."""
    if not isinstance(shapes, list):
        return [_problem("invalid_shapes", None)]
    bounds = check_frame(frame)
    limits = limits or limits_for(None)
    problems: list[dict[str, Any]] = []
    counts = {"polygon": 0, "line": 0}
    names: dict[str, int] = {}
    for index, shape in enumerate(shapes):
        number = index + 1
        kind = shape.get("kind") if isinstance(shape, dict) else None
        points = shape.get("points") if isinstance(shape, dict) else None
        if kind not in ("polygon", "line") or not isinstance(points, list):
            problems.append(_problem("invalid_shape", index, number=number))
            continue
        counts[kind] += 1
        name = shape.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
            problems.append(_problem("invalid_name", index, number=number, max=MAX_NAME))
        elif isinstance(name, str) and name.strip():
            key = name.strip()
            if key in names:
                problems.append(
                    _problem("duplicate_name", index, number=number, name=key, other=names[key] + 1)
                )
            else:
                names[key] = index
        properties = shape.get("properties")
        if properties is not None and not _properties_ok(properties):
            problems.append(_problem("invalid_properties", index, number=number, max=MAX_NAME))
        bad_point = next(
            (
                i
                for i, p in enumerate(points)
                if not (isinstance(p, list) and len(p) == 2 and _whole(p[0]) and _whole(p[1]))
            ),
            None,
        )
        if bad_point is not None:
            problems.append(_problem("invalid_point", index, number=number, point=bad_point + 1))
            continue
        if len(points) > MAX_POINTS:
            problems.append(_problem("too_many_points", index, number=number, max=MAX_POINTS))
            continue
        minimum = 3 if kind == "polygon" else 2
        if len(points) < minimum:
            problems.append(
                _problem(
                    "too_few_points",
                    index,
                    number=number,
                    count=len(points),
                    kind=kind,
                    minimum=minimum,
                )
            )
        elif kind == "line" and len(points) != 2:
            problems.append(_problem("wrong_point_count", index, number=number, count=len(points)))
        elif kind == "line" and points[0] == points[1]:
            problems.append(_problem("zero_length", index, number=number))
        elif kind == "polygon":
            # Points on one line enclose nothing; a bow tie's signed areas cancel too, but its
            # problem is the crossing.
            if collinear(points):
                problems.append(_problem("zero_area", index, number=number))
            elif len(points) <= MAX_POINTS_FOR_CROSSING_CHECK and is_self_intersecting(points):
                problems.append(_problem("self_intersecting", index, number=number))
            elif polygon_area(points) == 0:
                problems.append(_problem("zero_area", index, number=number))
        if any(
            p[0] < 0 or p[1] < 0 or p[0] > bounds["width"] or p[1] > bounds["height"]
            for p in points
        ):
            problems.append(
                _problem(
                    "out_of_frame",
                    index,
                    number=number,
                    width=bounds["width"],
                    height=bounds["height"],
                )
            )
    for kind in ("polygon", "line"):
        if counts[kind] > limits[kind]:
            problems.append(
                _problem("too_many_shapes", None, count=counts[kind], kind=kind, max=limits[kind])
            )
    return problems


def _properties_ok(properties: Any) -> bool:
    if not isinstance(properties, dict):
        return False
    for key in ("side1_name", "side2_name"):
        value = properties.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
            return False
    return True


def target_roi_string(shapes: list[dict[str, Any]]) -> str:
    """The shapes as the upstream's `target_roi`: a string holding compact JSON (the document
    escapes its quotes when it is serialised), polygons then lines, each kind in shape order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for shape in shapes:
        item: dict[str, Any] = {"data": [[int(p[0]), int(p[1])] for p in shape["points"]]}
        if isinstance(shape.get("name"), str) and shape["name"].strip():
            item["name"] = shape["name"].strip()
        if isinstance(shape.get("properties"), dict) and shape["properties"]:
            item["properties"] = shape["properties"]
        out.setdefault("polygons" if shape["kind"] == "polygon" else "lines", []).append(item)
    ordered = {key: out[key] for key in ("polygons", "lines") if key in out}
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
