"""DIFFUSE-PROGRESSION-AFTER-SRS: after repeated SRS, diffuse disease or poor performance status."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import UNKNOWN, Fact, PerformanceStatus
from tests.rules.builders import d, patient, progression, srs
from tests.rules.rendering import cards_of, created_codes, run, traces_of

RULE = "DIFFUSE-PROGRESSION-AFTER-SRS"


def after_two_srs(
    lesions=6,
    total=None,
    scale="ECOG",
    score=1,
    srs_dates=("2024-06-05", "2025-02-03"),
    progressed="2026-08-20",
):
    events = (
        (progression("2025-01-20"), progression(progressed))
        if progressed
        else (progression("2025-01-20"),)
    )
    state = patient(local=tuple(srs(x) for x in srs_dates), progressions=events)
    status = (
        Fact(PerformanceStatus(scale, score, d("2026-11-10")), ("Observation/ps",))
        if scale
        else Fact(UNKNOWN)
    )
    new = Fact(lesions, ("DiagnosticReport/mri",)) if lesions is not None else Fact(UNKNOWN)
    count = Fact(total if total is not None else lesions, ("DiagnosticReport/mri",))
    if lesions is None and total is None:
        count = Fact(UNKNOWN)
    return replace(
        state, new_brain_lesion_count=new, brain_lesion_count=count, performance_status=status
    )


def test_diffuse_disease_with_good_performance_status_puts_cns_active_therapy_first():
    [card] = cards_of(RULE, after_two_srs())
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "Diffuse brain progression 2026-08-20 (6 new lesions) after repeated SRS"
    )
    detail = card["detail"]
    for seen in (
        "SRS: 2 courses: 2024-06-05",
        "Brain progression 2026-08-20 after the last SRS (2025-02-03): brain MRI: new lesions",
        "New brain lesions on the latest report: 6",
        "Performance status: ECOG 1 (2026-11-10)",
    ):
        assert seen in detail
    assert "CNS-active systemic therapy first" in detail
    assert "memantine and hippocampal avoidance is palliation once systemic options" in detail
    assert "HR 0.74" in detail and "hospice" not in detail
    # The merged card carries the CNS-active options, and suggests exactly those.
    assert "- tucatinib + trastuzumab + capecitabine" in detail
    assert "- trastuzumab deruxtecan" in detail
    assert created_codes(card) == [["194000", "224905", "2361285"], ["2267582"]]


def test_one_card_not_two_when_cns_active_therapy_also_applies():
    rendered, evaluation = run(after_two_srs())
    rules = [c["source"]["topic"]["code"] for c in rendered]
    assert "CNS-ACTIVE-THERAPY" not in rules and RULE in rules
    [trace] = [t for t in evaluation.traces if t.rule_id == "CNS-ACTIVE-THERAPY"]
    assert trace.outcome == "suppressed" and RULE in trace.reason


def test_treated_stable_lesions_do_not_make_progression_diffuse():
    # 8 lesions on the report, of which 2 are new: rec. 6.1's case, not this card's.
    assert cards_of(RULE, after_two_srs(lesions=2, total=8)) == []


def test_poor_performance_status_leads_with_supportive_care_and_no_drug_orders():
    state = after_two_srs(lesions=3, score=3)
    [card] = cards_of(RULE, state)
    assert card["summary"] == (
        "Brain progression 2026-08-20 after 2 SRS courses, ECOG 3: supportive care first"
    )
    assert "hospice" in card["detail"] and "palliation" in card["detail"]
    assert "with memantine and hippocampal avoidance" not in card["detail"]
    # Drug options framed after the supportive-care discussion, in words: nothing to order.
    assert "After the supportive-care discussion, if systemic therapy is wanted:" in card["detail"]
    assert "suggestions" not in card
    rendered, _ = run(state)
    assert [c["source"]["topic"]["code"] for c in rendered] == [RULE]  # no MRI, no drug card


def test_karnofsky_below_70_is_poor_and_70_is_not():
    [poor] = cards_of(RULE, after_two_srs(lesions=3, scale="KPS", score=60))
    assert "KPS 60: supportive care first" in poor["summary"]
    assert cards_of(RULE, after_two_srs(lesions=3, scale="KPS", score=70)) == []
    [good] = cards_of(RULE, after_two_srs(lesions=6, scale="KPS", score=70))
    assert "Diffuse brain progression" in good["summary"]


def test_diffuse_disease_with_performance_status_unrecorded_gives_both_paths_conditionally():
    [card] = cards_of(RULE, after_two_srs(scale=None))
    assert "no ECOG on record" in card["summary"]
    assert "If performance status is good" in card["detail"]
    assert "If performance status is poor (ECOG 3-4, Karnofsky below 70)" in card["detail"]


def test_limited_progression_with_good_performance_status_is_not_this_rule():
    assert cards_of(RULE, after_two_srs(lesions=3)) == []
    [trace] = traces_of(RULE, after_two_srs(lesions=3))
    assert trace.reason == "no variant applies"


def test_unknown_lesion_count_and_performance_status_stay_silent_and_the_trace_says_so():
    [trace] = traces_of(RULE, after_two_srs(lesions=None, scale=None))
    assert trace.outcome == "not-fired"
    assert "unknown: new_brain_lesion_count, poor_performance_status" in trace.reason


def test_one_srs_course_is_not_enough():
    assert cards_of(RULE, after_two_srs(srs_dates=("2024-06-05",))) == []


def test_no_progression_after_the_last_srs_is_silent():
    assert cards_of(RULE, after_two_srs(srs_dates=("2024-06-05", "2026-09-01"))) == []


def test_her2_negative_gets_no_card():
    state = replace(after_two_srs(), her2=patient(her2="negative").her2)
    assert cards_of(RULE, state) == []
