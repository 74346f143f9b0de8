"""The scenarios' timelines as Chromium lays them out: every label readable, none overlapping."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.timeline.screenshots import SCENARIOS, scenario_page

pytestmark = pytest.mark.browser
Box = dict[str, float]


def overlap(a: Box, b: Box) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(box: Box, frame: Box) -> bool:
    return (
        box["x"] >= frame["x"]
        and box["y"] >= frame["y"]
        and box["x"] + box["width"] <= frame["x"] + frame["width"]
        and box["y"] + box["height"] <= frame["y"] + frame["height"]
    )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS.glob("*.json")), ids=lambda p: p.stem)
def test_labels_are_inside_the_chart_and_never_overlap(browser: Any, scenario: Path) -> None:
    page = browser.new_page(viewport={"width": 1180, "height": 600})
    page.set_content(scenario_page(scenario))
    frame = page.query_selector("svg").bounding_box()
    labels = [(t.text_content(), t.bounding_box()) for t in page.query_selector_all("svg text")]
    page.close()

    assert len(labels) >= 6  # lane names, axis, today, and the marks
    for text, box in labels:
        assert box is not None and box["width"] > 0, f"{text!r} is not drawn"
        assert inside(box, frame), f"{text!r} falls outside the chart"
    pairs = combinations(labels, 2)
    clashes = [(a, b) for (a, box_a), (b, box_b) in pairs if overlap(box_a, box_b)]
    assert clashes == []
