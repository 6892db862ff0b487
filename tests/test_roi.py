"""target_roi normalisation: unit cases and property tests (it never raises)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.errors import roi_for_reader
from tasks.roi import DROP_CODES, STOP_CODES, normalise_roi, polygon_area, problem_template

RECT = [[100, 100], [1800, 100], [1800, 1000], [100, 1000]]


def codes(roi: dict) -> list[str]:
    return [p["code"] for p in roi["problems"]]


def test_it_reads_the_escaped_string_form():
    roi = normalise_roi(json.dumps({"polygons": [{"data": RECT, "name": "door"}]}))
    assert roi["frame"] == {"width": 1920, "height": 1080, "assumed": True}
    assert roi["shapes"] == [{"kind": "polygon", "points": RECT, "name": "door"}]
    assert roi["whole_frame"] is False and roi["problems"] == []


def test_it_reads_a_dict_with_lines_and_detection_sizes():
    roi = normalise_roi(
        {
            "lines": [{"data": [[50, 756], [1100, 616]], "properties": {"type": 0}}],
            "polygons": [{"data": RECT}],
        },
        {"detection_min_size": 120, "detection_max_size": 800},
    )
    kinds = [s["kind"] for s in roi["shapes"]]
    assert kinds == ["polygon", "line"]
    assert roi["shapes"][1]["properties"] == {"type": 0}
    assert roi["detection"] == {"min_size": 120, "max_size": 800}


@pytest.mark.parametrize("empty", [None, "", "   ", "{}", {"polygons": [], "lines": []}])
def test_no_roi_means_the_whole_frame(empty):
    roi = normalise_roi(empty)
    assert roi["whole_frame"] is True and roi["shapes"] == [] and roi["problems"] == []


@pytest.mark.parametrize(
    ("target_roi", "code"),
    [
        ('{"polygons":[{"data":[[1,2]', "malformed_json"),
        ("[1, 2]", "not_an_object"),
        ({"polygons": [{"data": [[1, 1], [2, 2]]}]}, "too_few_points"),
        ({"polygons": [{"data": [[1, "a"], [2, 2], [3, 3]]}]}, "non_numeric"),
        ('{"polygons":[{"data":[[1,NaN],[2,2],[3,3]]}]}', "not_finite"),
        ('{"polygons":[{"data":[[1,Infinity],[2,2],[3,3]]}]}', "not_finite"),
        ({"polygons": [{"data": [[True, 1], [2, 2], [3, 3]]}]}, "boolean_coordinate"),
        ({"lines": [{"data": [[1, 1]]}]}, "too_few_points"),
        ({"lines": [{"data": [[1, 1], [2, 2], [3, 3]]}]}, "wrong_point_count"),
        ({"polygons": [{"data": [[1, 1, 1], [2, 2], [3, 3]]}]}, "invalid_point"),
        ({"polygons": ["x"]}, "invalid_shape"),
        ({"polygons": [{"data": [[0, 0], [1e300, 0], [0, 5]]}]}, "coordinate_too_large"),
    ],
)
def test_unusable_shapes_are_dropped_and_explained(target_roi, code):
    roi = normalise_roi(target_roi)
    assert roi["shapes"] == []
    assert code in codes(roi)


def test_a_self_intersecting_polygon_is_kept_with_a_problem():
    roi = normalise_roi({"polygons": [{"data": [[100, 100], [900, 900], [900, 100], [100, 900]]}]})
    assert len(roi["shapes"]) == 1 and codes(roi) == ["self_intersecting"]


def test_the_frame_grows_to_hold_every_point():
    roi = normalise_roi({"polygons": [{"data": [[0, 0], [2500, 0], [2500, 1400]]}]})
    assert (roi["frame"]["width"], roi["frame"]["height"]) == (2560, 1440)
    roi = normalise_roi({"polygons": [{"data": [[0, 0], [3000, 0], [3000, 2000]]}]})
    assert (roi["frame"]["width"], roi["frame"]["height"]) == (3840, 2160)


@pytest.mark.parametrize("point", [[-5, 100], [4000, 100], [100, 3000]])
def test_points_outside_any_frame_are_problems_but_drawn(point):
    roi = normalise_roi({"polygons": [{"data": [[0, 0], [100, 0], point]}]})
    assert len(roi["shapes"]) == 1 and "out_of_frame" in codes(roi)
    assert (roi["frame"]["width"], roi["frame"]["height"]) == (3840, 2160)


def test_min_greater_than_max_is_a_problem():
    roi = normalise_roi(None, {"detection_min_size": 900, "detection_max_size": 800})
    assert roi["detection"] == {"min_size": 900, "max_size": 800}
    assert codes(roi) == ["min_greater_than_max"]


def test_unknown_keys_are_reported():
    roi = normalise_roi({"polygons": [{"data": RECT, "colour": "red"}], "circles": []})
    assert codes(roi).count("unknown_key") == 2 and len(roi["shapes"]) == 1


def test_more_than_ten_thousand_points_stop_adding_shapes():
    big = [[i % 1900, (i * 7) % 1000] for i in range(6000)]
    roi = normalise_roi({"polygons": [{"data": big}, {"data": big}, {"data": RECT}]})
    assert len(roi["shapes"]) == 1 and "too_many_points" in codes(roi)


def test_polygon_area():
    assert polygon_area(RECT) == 1700 * 900
    assert polygon_area([[0, 0], [1, 1]]) == 0.0
    assert polygon_area("nonsense") == 0.0
    assert polygon_area([[0, 0], [4, 0], [0, 3]]) == 6.0


# ------------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["data", "name", "properties", "x"]), children, max_size=4
        )
    ),
    max_leaves=30,
)
coordinate = (
    st.integers(min_value=-5000, max_value=5000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=2)
)
point = st.lists(coordinate, min_size=0, max_size=3)
shape = st.fixed_dictionaries(
    {"data": st.lists(point, max_size=8)},
    optional={"name": st.text(max_size=5) | st.integers(), "properties": json_values},
)
roi_objects = st.fixed_dictionaries(
    {}, optional={"polygons": st.lists(shape, max_size=5), "lines": st.lists(shape, max_size=5)}
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_output(roi: dict) -> None:
    json.dumps(roi, allow_nan=False)  # strict JSON: no NaN/Infinity anywhere
    assert set(roi) == {"frame", "shapes", "whole_frame", "detection", "problems"}
    for s in roi["shapes"]:
        assert s["kind"] in ("polygon", "line")
        for p in s["points"]:
            assert len(p) == 2
            assert all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)
            assert all(math.isfinite(c) for c in p)
    for problem in roi["problems"]:
        # Data, not words: a code, its params and, where a code has several messages, a reason.
        assert {"code", "params"} <= set(problem) <= {"code", "reason", "params"}
        assert problem_template(problem), problem
    json.dumps(roi_for_reader(roi), allow_nan=False)
    for problem in roi_for_reader(roi)["problems"]:  # as the API and the page show them
        assert set(problem) == {"code", "message"} and problem["message"]
        assert "%(" not in problem["message"]


@FAST
@given(st.text(max_size=200) | json_values)
def test_arbitrary_input_never_raises(value):
    _check_output(normalise_roi(value, value))


@FAST
@given(json_values)
def test_arbitrary_json_strings_never_raise(value):
    _check_output(normalise_roi(json.dumps(value), {"detection_min_size": value}))


@FAST
@given(roi_objects, st.booleans())
def test_every_dropped_shape_is_explained(roi_obj, as_string):
    roi = normalise_roi(json.dumps(roi_obj) if as_string else roi_obj)
    _check_output(roi)
    given_count = len(roi_obj.get("polygons", [])) + len(roi_obj.get("lines", []))
    dropped = given_count - len(roi["shapes"])
    explained = sum(1 for c in codes(roi) if c in DROP_CODES)
    if not any(c in STOP_CODES for c in codes(roi)):
        assert dropped == explained
