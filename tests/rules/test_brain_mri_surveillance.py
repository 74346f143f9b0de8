"""BRAIN-MRI-SURVEILLANCE: regular brain MRI for known brain metastases, never as screening."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import Fact
from tests.rules.builders import d, patient, progression
from tests.rules.rendering import cards_of, created_codes, traces_of

RULE = "BRAIN-MRI-SURVEILLANCE"


def with_mri(last: str | None, onset: str = "2026-01-10", **extra):
    state = patient(**extra)
    mri = (
        Fact(d(last), ("ImagingStudy/mri",))
        if last
        else Fact(None, (), ("no brain MRI in the record",))
    )  # type: ignore[arg-type]
    return replace(
        state,
        last_brain_mri=mri,
        brain_metastases_onset=Fact(d(onset), ("Condition/brain",)),
        hospice=Fact(False),
    )


def test_no_mri_for_95_days_within_two_years_of_a_brain_event_suggests_one():
    [card] = cards_of(RULE, with_mri("2026-08-20"))
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "Known brain metastases: last brain MRI 2026-08-20, 95 days ago; due every 90 days"
    )
    # The interval is the Dutch guideline's, never ASCO rec. 10.2 (symptomatic MRI).
    assert "Dutch national guideline" in card["detail"] and "10.2" not in card["detail"]
    assert "Last brain MRI 2026-08-20, 95 days ago (last brain event 2026-01-10)" in card["detail"]
    [suggestion] = card["suggestions"]
    [action] = suggestion["actions"]
    assert action["type"] == "create"
    assert (
        action["resource"]["resourceType"] == "ServiceRequest"
        and action["resource"]["status"] == "draft"
    )
    assert created_codes(card) == [["24587-8"]]
    assert action["resource"]["code"]["coding"][0]["system"] == "http://loinc.org"


def test_recent_mri_is_silent():
    assert cards_of(RULE, with_mri("2026-10-01")) == []


def test_after_two_quiet_years_the_interval_is_180_days():
    assert cards_of(RULE, with_mri("2026-07-01", onset="2023-05-01")) == []
    [card] = cards_of(RULE, with_mri("2026-05-01", onset="2023-05-01"))
    assert card["summary"].endswith("206 days ago; due every 180 days")


def test_a_recent_progression_restarts_the_close_interval():
    state = with_mri("2026-07-01", onset="2023-05-01", progressions=(progression("2026-03-01"),))
    [card] = cards_of(RULE, state)
    assert card["summary"].endswith("145 days ago; due every 90 days")


def test_no_mri_on_record_at_all():
    [card] = cards_of(RULE, with_mri(None))
    assert (
        card["summary"] == "Known brain metastases and no brain MRI on record: consider MRI brain"
    )
    assert created_codes(card) == [["24587-8"]]


def test_never_without_known_brain_metastases():
    state = replace(with_mri(None), brain_metastases=Fact(False), brain_metastases_onset=Fact(None))  # type: ignore[arg-type]
    assert cards_of(RULE, state) == []


def test_not_under_hospice_care():
    state = replace(with_mri("2026-05-01"), hospice=Fact(True, ("Procedure/hospice",)))
    assert cards_of(RULE, state) == []
    [trace] = traces_of(RULE, state)
    assert trace.outcome == "excluded"


def test_unknown_imaging_stays_silent_and_the_trace_says_so():
    state = replace(
        with_mri("2026-05-01"), last_brain_mri=Fact.unknown("imaging could not be obtained")
    )
    [trace] = traces_of(RULE, state)
    assert trace.outcome == "not-fired" and "brain_mri_overdue is unknown" in trace.reason


def test_her2_negative_patients_are_included_and_the_card_has_no_her2_therapy():
    [card] = cards_of(RULE, with_mri("2026-05-01", her2="negative"))
    assert "trastuzumab" not in card["detail"] and "tucatinib" not in card["detail"]


def test_only_on_patient_view():
    assert cards_of(RULE, with_mri("2026-05-01"), "order-select") == []
