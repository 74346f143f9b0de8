"""LAPATINIB-RECHALLENGE: critical only for a true rechallenge after progression."""

from __future__ import annotations

import pytest

from cds_service import cards
from cds_service.rules.evaluator import evaluate
from cds_service.rules.loader import load_knowledge
from tests.rules.builders import draft, patient, progression, regimen, srs

KNOWLEDGE = load_knowledge()
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def cards_for(state, hook="order-select"):
    evaluation = evaluate(KNOWLEDGE, state, hook)
    rendered = cards.render(
        evaluation.findings, KNOWLEDGE, state, hook_instance="hi-1", patient_id="p1"
    )
    return [c for c in rendered if cards.rule_id_of(c) == "LAPATINIB-RECHALLENGE"], evaluation


def progressed_on_lapatinib(**extra):
    event = progression("2026-08-20")
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2026-08-25", "progression", event)
    return dict(
        regimens=(lap,),
        progressions=(progression("2025-01-15"), event),
        local=(srs("2024-06-10"), srs("2025-02-03")),
        **extra,
    )


def created_codes(suggestion):
    return sorted(
        a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
        for a in suggestion["actions"]
        if a["type"] == "create"
    )


def test_lapatinib_rechallenge_is_critical_after_progression_on_lapatinib():
    state = patient(**progressed_on_lapatinib(orders=(draft("lapatinib"),)))
    [card], _ = cards_for(state)
    assert card["indicator"] == "critical"
    assert card["summary"] == (
        "Lapatinib rechallenge: progression 2026-08-20 on lapatinib + capecitabine"
    )
    assert "2026-08-20" in card["detail"] and "No trial supports" in card["detail"]
    assert card["selectionBehavior"] == "at-most-one"
    triplet, tdxd = card["suggestions"]
    for suggestion in (triplet, tdxd):
        delete = [a for a in suggestion["actions"] if a["type"] == "delete"]
        assert delete == [
            {
                "type": "delete",
                "description": "Remove the draft order for lapatinib",
                "resourceId": "MedicationRequest/draft-1",
            }
        ]
    assert created_codes(triplet) == ["194000", "224905", "2361285"]
    assert created_codes(tdxd) == ["2267582"]
    for action in triplet["actions"][1:]:
        resource = action["resource"]
        assert resource["status"] == "draft" and resource["subject"] == {"reference": "Patient/p1"}
        assert resource["medicationCodeableConcept"]["coding"][0]["system"] == RXNORM
    assert [r["code"] for r in card["overrideReasons"]] == [
        "clinical-trial-protocol",
        "no-alternative-available",
        "cns-only-progression-local-therapy",
        "other",
    ]
    assert all(r["display"] for r in card["overrideReasons"])


def test_card_uuid_is_stable_for_a_hook_instance_and_rule():
    state = patient(**progressed_on_lapatinib(orders=(draft("lapatinib"),)))
    first, _ = cards_for(state)
    second, _ = cards_for(state)
    assert first[0]["uuid"] == second[0]["uuid"]
    assert first[0]["uuid"] == cards.card_uuid(
        "hi-1", "LAPATINIB-RECHALLENGE", "MedicationRequest/draft-1"
    )


def test_rechallenge_does_not_suggest_the_tucatinib_regimen_after_progression_on_it():
    kwargs = progressed_on_lapatinib(orders=(draft("lapatinib"),))
    tuc = regimen(
        "tucatinib+trastuzumab+capecitabine",
        "2023-01-01",
        "2024-01-01",
        "progression",
        progression("2023-12-20"),
    )
    kwargs["regimens"] = (tuc, *kwargs["regimens"])
    [card], _ = cards_for(patient(**kwargs))
    assert [s["label"] for s in card["suggestions"]] == [
        "Replace lapatinib with trastuzumab deruxtecan"
    ]


def test_another_regimen_in_between_gives_a_warning():
    kwargs = progressed_on_lapatinib(orders=(draft("lapatinib"),))
    kwargs["regimens"] = (
        *kwargs["regimens"],
        regimen("t-dm1", "2026-09-01", "2026-11-01", "toxicity"),
    )
    [card], _ = cards_for(patient(**kwargs))
    assert card["indicator"] == "warning"
    assert card["summary"] == "Lapatinib again: progression 2026-08-20 on it, then T-DM1"


def test_lapatinib_stopped_for_toxicity_is_a_warning_without_delete():
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2025-04-01", "toxicity")
    [card], _ = cards_for(patient(regimens=(lap,), orders=(draft("lapatinib"),)))
    assert card["indicator"] == "warning"
    assert "toxicity" in card["summary"]
    assert "suggestions" not in card
    assert "dose reductions" in card["detail"]


def test_a_course_ended_without_recorded_progression_draws_no_card():
    # Nothing to act on (CLINICAL_RULES.md, "Proportionate"): no card at all.
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2025-04-01", "other")
    cards_found, _ = cards_for(patient(regimens=(lap,), orders=(draft("lapatinib"),)))
    assert cards_found == []


@pytest.mark.parametrize(
    ("description", "kwargs"),
    [
        ("first lapatinib course", dict(orders=(draft("lapatinib"),))),
        (
            "refill of a running course",
            dict(
                regimens=(regimen("lapatinib+capecitabine", "2026-09-01"),),
                orders=(draft("lapatinib"),),
            ),
        ),
        (
            "no lapatinib ordered",
            dict(
                regimens=(
                    regimen(
                        "lapatinib",
                        "2025-01-01",
                        "2025-06-01",
                        "progression",
                        progression("2025-05-20"),
                    ),
                ),
                orders=(draft("capecitabine"),),
            ),
        ),
    ],
)
def test_no_rechallenge_flag(description, kwargs):
    found, _ = cards_for(patient(**kwargs))
    assert found == [], description


def test_rule_stays_silent_and_says_why_when_her2_status_is_unknown():
    found, evaluation = cards_for(
        patient(her2=None, **progressed_on_lapatinib(orders=(draft("lapatinib"),)))
    )
    assert found == []
    [trace] = [t for t in evaluation.traces if t.rule_id == "LAPATINIB-RECHALLENGE"]
    assert trace.outcome == "not-fired"
    assert "her2_positive is unknown" in trace.reason


def test_order_select_looks_only_at_selected_orders():
    state = patient(**progressed_on_lapatinib(orders=(draft("lapatinib", selected=False),)))
    found, _ = cards_for(state)
    assert found == []


def test_lapatinib_is_never_an_order_hook_card_in_patient_view():
    found, _ = cards_for(
        patient(**progressed_on_lapatinib(orders=(draft("lapatinib"),))), hook="patient-view"
    )
    assert found == []
