"""The CNS timeline page: what an oncologist must see on it, each mark linked to its evidence."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest

from cds_service.fhir.record import parse_record
from cds_service.state import derive
from cds_service.state.model import Fact, FhirDate, PatientState
from cds_service.testing import bundle_resources
from cds_service.timeline import brain_mris, marks, render_html, scale_for

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
SCENARIO_1 = SCENARIOS / "01-rechallenge-after-srs.json"
TODAY = date(2026, 11, 23)
SVG = "{http://www.w3.org/2000/svg}"


def state_and_mris(path: Path) -> tuple[PatientState, tuple]:
    record = parse_record(("bundle", r) for r in bundle_resources(json.loads(path.read_text())))
    return derive(record, TODAY), brain_mris(record)


def svg_of(page: str) -> ET.Element:
    return ET.fromstring(re.search(r"<svg .*</svg>", page, re.S).group(0))


def links(svg: ET.Element, css: str) -> list[ET.Element]:
    return [a for a in svg.iter(f"{SVG}a") if css in a.get("class", "").split()]


def title(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text


@pytest.fixture(scope="module")
def scenario_1() -> tuple[str, ET.Element, PatientState]:
    state, mris = state_and_mris(SCENARIO_1)
    page = render_html(state, title="Scenario 1", mris=mris)
    return page, svg_of(page), state


@pytest.fixture(scope="module")
def mris_1() -> tuple:
    return state_and_mris(SCENARIO_1)[1]


def test_scenario_1_shows_both_srs_courses(scenario_1) -> None:
    _, svg, _ = scenario_1
    srs = links(svg, "srs")
    assert [title(a).split("\n")[0] for a in srs] == [
        "SRS to Left frontal lobe, 1 fraction: 2024-06-05",
        "SRS to Right parietal lobe, 1 fraction: 2025-02-03",
    ]
    assert [t.text for a in srs for t in a.iter(f"{SVG}text")] == [
        "SRS 2024-06-05",
        "SRS 2025-02-03",
    ]


def test_scenario_1_shows_every_intracranial_progression_across_every_lane(scenario_1) -> None:
    _, svg, _ = scenario_1
    progressions = links(svg, "intracranial")
    assert [t.text for a in progressions for t in a.iter(f"{SVG}text")] == [
        "2024-05-14 intracranial",  # first brain metastases, during trastuzumab + pertuzumab
        "2025-01-20 intracranial",
        "2026-08-20 intracranial",
    ]
    lines = [line for line in svg.iter(f"{SVG}line") if "progression" in line.get("class", "")]
    assert len(lines) == 3
    assert all(float(line.get("y2")) - float(line.get("y1")) > 200 for line in lines)


def test_scenario_1_lapatinib_capecitabine_bar_ends_at_the_progression(scenario_1, mris_1) -> None:
    _, svg, state = scenario_1
    [lapatinib] = [a for a in links(svg, "regimen") if "lapatinib + capecitabine" in title(a)]
    assert "ended by progression (2026-08-20)" in title(lapatinib)
    bar, cap = (r for r in lapatinib.iter(f"{SVG}rect"))
    assert cap.get("class") == "cap"
    scale = scale_for(marks(state, mris_1), state.today)
    right = float(bar.get("x")) + float(bar.get("width"))
    assert right == pytest.approx(scale.x(date(2026, 8, 25)), abs=0.2)
    progression_x = [
        float(line.get("x1"))
        for line in svg.iter(f"{SVG}line")
        if "progression" in line.get("class", "")
    ]
    assert any(float(bar.get("x")) < x <= right for x in progression_x)
    assert "Observation/scenario-01-disease-status-2" in title(lapatinib)


def test_scenario_1_shows_every_brain_mri_once_per_exam(scenario_1) -> None:
    _, svg, _ = scenario_1
    mris = links(svg, "mri")
    assert [t.text for a in mris for t in a.iter(f"{SVG}text")] == [
        "2024-05-14",
        "2025-01-20",
        "2026-08-20",
    ]
    # The study and its report of 2026-08-20 are one exam with two references.
    assert "ImagingStudy/scenario-01-brain-mri-study-1" in title(mris[2])
    assert "DiagnosticReport/scenario-01-brain-mri-report-3" in title(mris[2])


def test_every_mark_links_to_its_evidence_entry(scenario_1) -> None:
    page, svg, _ = scenario_1
    anchors = {a.get("href")[1:]: a for a in svg.iter(f"{SVG}a")}
    assert len(anchors) == 10  # with the first brain metastases as a progression (issue 17)
    for anchor, link in anchors.items():
        entry = re.search(rf'<li id="{anchor}">(.*?)</li>', page).group(1)
        references = title(link).split("Evidence: ", 1)[1].split(", ")
        assert references and all(f"<code>{ref}</code>" in entry for ref in references)


def test_today_is_marked(scenario_1) -> None:
    _, svg, _ = scenario_1
    [today] = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "today"]
    assert today.find(f"{SVG}text").text == "today 2026-11-23"


def test_the_page_is_standalone(scenario_1) -> None:
    page, _, _ = scenario_1
    assert "<script" not in page and "<link" not in page and " src=" not in page
    external = [u for u in re.findall(r'(?:href|url)\(?="?([^"#)][^")]*)', page)]
    assert external == []
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]


def test_record_text_is_escaped_not_executed(scenario_1) -> None:
    _, _, state = scenario_1
    therapy = dataclasses.replace(state.local_therapies[0], targets=("<script>alert(1)</script>",))
    hostile = dataclasses.replace(state, local_therapies=(therapy, *state.local_therapies[1:]))
    page = render_html(hostile, title="<b>x</b>")
    assert "<script>" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_without_the_record_only_the_last_mri_is_shown(scenario_1) -> None:
    _, _, state = scenario_1
    svg = svg_of(render_html(state, title="t"))
    assert [t.text for a in links(svg, "mri") for t in a.iter(f"{SVG}text")] == ["2026-08-20"]


def test_unobtainable_history_reads_unknown_not_none(scenario_1) -> None:
    _, _, state = scenario_1
    blind = dataclasses.replace(
        state,
        regimens=(),
        local_therapies=(),
        therapy_history_known=Fact(False),
        local_therapy_known=Fact(False),
    )
    texts = [t.text for t in svg_of(render_html(blind, title="t")).iter(f"{SVG}text")]
    assert "therapy unknown: could not be obtained" in texts
    assert "local therapy unknown: could not be obtained" in texts
    assert "none recorded" not in texts  # MRIs and progressions are recorded here


def test_an_undated_course_is_listed_under_caveats_not_guessed_onto_the_axis(scenario_1) -> None:
    _, _, state = scenario_1
    undated = dataclasses.replace(state.local_therapies[0], start=None, end=None)
    page = render_html(dataclasses.replace(state, local_therapies=(undated,)), title="t")
    assert [t.text for a in links(svg_of(page), "srs") for t in a.iter(f"{SVG}text")] == []
    caveats = page.split("<h2>Caveats</h2>", 1)[1]
    expected = "SRS to Left frontal lobe, 1 fraction: date unknown (Procedure/scenario-01-srs-1)"
    assert f"Not placed (no date): {expected}" in caveats


def test_a_long_label_near_today_goes_before_its_bar_not_off_the_chart(scenario_1) -> None:
    _, _, state = scenario_1
    agents = frozenset({"trastuzumab", "pertuzumab", "carboplatin", "docetaxel"})
    short = dataclasses.replace(
        state.regimens[-1],
        agents=agents,
        start=FhirDate.parse("2026-09-01"),
        end=FhirDate.parse("2026-11-13"),
        progression=None,
    )
    svg = svg_of(render_html(dataclasses.replace(state, regimens=(short,)), title="t"))
    [label] = [t for a in links(svg, "regimen") for t in a.iter(f"{SVG}text")]
    assert label.text == "trastuzumab + pertuzumab + carboplatin + docetaxel"
    assert label.get("text-anchor") == "end"
    [bar] = [
        r for a in links(svg, "regimen") for r in a.iter(f"{SVG}rect") if r.get("class") == "bar"
    ]
    assert float(label.get("x")) < float(bar.get("x"))
