"""The ROI geometry checks (tasks.roi_geometry); the same cases run in the browser against the
editor's script (tests/test_browser_roi_editor.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.roi_geometry import (
    MESSAGES,
    describe,
    limits_for,
    shape_problems,
    target_roi_string,
)

CASES = json.loads((Path(__file__).parent / "roi_geometry_cases.json").read_text())["cases"]


def found(case: dict) -> list[list]:
    problems = shape_problems(
        case["shapes"], frame=case.get("frame"), limits=limits_for(case.get("service"))
    )
    return [[p["code"], p["shape"]] for p in problems]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_each_shared_case_finds_exactly_the_expected_problems(case):
    assert found(case) == case["expect"]


def test_every_problem_has_a_message_with_its_parameters_filled_in():
    for case in CASES:
        for problem in shape_problems(
            case["shapes"], frame=case.get("frame"), limits=limits_for(case.get("service"))
        ):
            assert problem["code"] in MESSAGES
            text = describe(problem)
            assert "%(" not in text and text.strip(), (problem, text)


def test_the_target_roi_string_is_compact_json_polygons_then_lines():
    shapes = [
        {"kind": "line", "points": [[0, 0], [5, 5]], "properties": {"side1_name": "里"}},
        {"kind": "polygon", "name": " door ", "points": [[1, 1], [9, 1], [9, 9]]},
    ]
    text = target_roi_string(shapes)
    assert text == (
        '{"polygons":[{"data":[[1,1],[9,1],[9,9]],"name":"door"}],'
        '"lines":[{"data":[[0,0],[5,5]],"properties":{"side1_name":"里"}}]}'
    )
    # Inside the task document it is a string: its quotes are escaped when the body is sent.
    assert '\\"polygons\\"' in json.dumps({"target_roi": text})


def test_a_non_list_is_one_problem():
    assert [p["code"] for p in shape_problems({"polygons": []})] == ["invalid_shapes"]
