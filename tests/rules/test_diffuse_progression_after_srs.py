"""DIFFUSE-PROGRESSION-AFTER-SRS: after repeated SRS, diffuse disease or poor performance status."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import UNKNOWN, Fact, PerformanceStatus
from tests.rules.builders import d, patient, progression, srs
from tests.rules.rendering import cards_of, traces_of

RULE = "DIFFUSE-PROGRESSION-AFTER-SRS"


def after_two_srs(
    lesions=6,
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
    count = Fact(lesions, ("DiagnosticReport/mri",)) if lesions is not None else Fact(UNKNOWN)
    return replace(state, brain_lesion_count=count, performance_status=status)


def test_diffuse_disease_with_good_performance_status_offers_wbrt_or_systemic_therapy_as_equals():
    [card] = cards_of(RULE, after_two_srs())
    assert card["indicator"] == "info"
    detail = card["detail"]
    for seen in (
        "SRS: 2 course(s): 2024-06-05",
        "Intracranial progression 2026-08-20",
        "after the last SRS (2025-02-03)",
        "Brain lesions on the latest report that counts them: 6",
        "Performance status: ECOG 1 (2026-11-10)",
    ):
        assert seen in detail
    assert (
        "memantine and hippocampal avoidance" in detail and "CNS-active systemic therapy" in detail
    )
    assert "HR 0.74" in detail and "up to about 10 lesions" in detail
    assert "hospice" not in detail


def test_poor_performance_status_leads_with_supportive_care_and_palliative_wbrt():
    [card] = cards_of(RULE, after_two_srs(lesions=3, score=3))
    assert "supportive care and hospice" in card["summary"]
    assert "palliation" in card["detail"] and "not needed for palliation" in card["detail"]
    assert "with memantine and hippocampal avoidance" not in card["detail"]


def test_karnofsky_below_70_is_poor_and_70_is_not():
    [poor] = cards_of(RULE, after_two_srs(lesions=3, scale="KPS", score=60))
    assert "hospice" in poor["summary"]
    assert cards_of(RULE, after_two_srs(lesions=3, scale="KPS", score=70)) == []
    [good] = cards_of(RULE, after_two_srs(lesions=6, scale="KPS", score=70))
    assert "as equals" in good["summary"]


def test_diffuse_disease_with_performance_status_unrecorded_gives_both_paths_conditionally():
    [card] = cards_of(RULE, after_two_srs(scale=None))
    assert "not recorded" in card["summary"]
    assert (
        "Good performance status" in card["detail"]
        and "Poor performance status (ECOG 3-4, Karnofsky below 70)" in card["detail"]
    )


def test_limited_progression_with_good_performance_status_is_not_this_rule():
    assert cards_of(RULE, after_two_srs(lesions=3)) == []
    [trace] = traces_of(RULE, after_two_srs(lesions=3))
    assert trace.reason == "no variant applies"


def test_unknown_lesion_count_and_performance_status_stay_silent_and_the_trace_says_so():
    [trace] = traces_of(RULE, after_two_srs(lesions=None, scale=None))
    assert trace.outcome == "not-fired"
    assert "unknown: brain_lesion_count, poor_performance_status" in trace.reason


def test_one_srs_course_is_not_enough():
    assert cards_of(RULE, after_two_srs(srs_dates=("2024-06-05",))) == []


def test_no_progression_after_the_last_srs_is_silent():
    assert cards_of(RULE, after_two_srs(srs_dates=("2024-06-05", "2026-09-01"))) == []


def test_her2_negative_gets_no_card():
    state = replace(after_two_srs(), her2=patient(her2="negative").her2)
    assert cards_of(RULE, state) == []
