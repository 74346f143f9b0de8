"""CNS-ACTIVE-THERAPY: CNS-active HER2 options when the brain progresses, silent where it should be."""

from __future__ import annotations

from cds_service import cards
from cds_service.rules.evaluator import evaluate
from cds_service.rules.loader import load_knowledge
from tests.rules.builders import draft, patient, progression, regimen, srs

KNOWLEDGE = load_knowledge()


def cns_cards(state, hook="patient-view"):
    evaluation = evaluate(KNOWLEDGE, state, hook)
    rendered = cards.render(
        evaluation.findings, KNOWLEDGE, state, hook_instance="hi-2", patient_id="p3"
    )
    return [c for c in rendered if cards.rule_id_of(c) == "CNS-ACTIVE-THERAPY"], evaluation


def suggested_codes(card):
    return [
        sorted(
            a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
            for a in s["actions"]
            if a["type"] == "create"
        )
        for s in card["suggestions"]
    ]


def progressed_after_thp(**extra):
    event = progression("2026-10-05")
    thp = regimen(
        "trastuzumab+pertuzumab+docetaxel", "2025-01-10", "2026-10-10", "progression", event
    )
    return dict(regimens=(thp,), progressions=(event,), **extra)


def test_progression_on_large_antibodies_offers_both_cns_active_options_as_equals():
    [card], _ = cns_cards(patient(**progressed_after_thp()))
    assert card["indicator"] == "info"
    assert card["selectionBehavior"] == "at-most-one"
    assert suggested_codes(card) == [["194000", "224905", "2361285"], ["2267582"]]
    assert not any(s.get("isRecommended") for s in card["suggestions"])
    assert card["summary"] == (
        "Brain progression 2026-10-05 on trastuzumab + pertuzumab + docetaxel: "
        "CNS-active HER2 options"
    )
    assert "9.9 vs 4.2 months" in card["detail"] and "71.7%" in card["detail"]
    assert card["source"]["url"].startswith("https://")


def test_after_srs_the_card_names_local_options_as_peers():
    [card], _ = cns_cards(patient(**progressed_after_thp(local=(srs("2025-06-01"),))))
    assert "repeat SRS, surgery or whole-brain radiotherapy are peers of a switch" in card["detail"]
    [without_srs], _ = cns_cards(patient(**progressed_after_thp()))
    assert "repeat SRS" not in without_srs["detail"]


def test_progressed_on_tucatinib_regimen_suggests_t_dxd_not_tucatinib_again():
    event = progression("2026-09-01")
    tuc = regimen(
        "tucatinib+trastuzumab+capecitabine", "2025-03-01", "2026-09-10", "progression", event
    )
    [card], _ = cns_cards(patient(regimens=(tuc,), progressions=(event,)))
    assert suggested_codes(card) == [["2267582"]]


def test_both_options_used_gives_information_about_the_rest():
    first = progression("2025-08-01")
    second = progression("2026-09-01")
    tuc = regimen(
        "tucatinib+trastuzumab+capecitabine", "2024-03-01", "2025-08-10", "progression", first
    )
    tdxd = regimen("t-dxd", "2025-08-20", "2026-09-10", "progression", second)
    [card], _ = cns_cards(patient(regimens=(tuc, tdxd), progressions=(first, second)))
    assert "T-DM1" in card["summary"] and "suggestions" not in card


def test_no_suggestion_to_start_tucatinib_for_a_patient_stable_on_it():
    earlier = progression("2025-01-10")
    tuc = regimen("tucatinib+trastuzumab+capecitabine", "2025-02-01")
    found, evaluation = cns_cards(patient(regimens=(tuc,), progressions=(earlier,)))
    assert found == []
    [trace] = [t for t in evaluation.traces if t.rule_id == "CNS-ACTIVE-THERAPY"]
    assert trace.outcome == "not-fired"  # the progression was answered by starting the regimen


def test_symptomatic_mass_effect_excludes_the_drug_card():
    found, evaluation = cns_cards(patient(mass_effect=True, **progressed_after_thp()))
    assert found == []
    [trace] = [t for t in evaluation.traces if t.rule_id == "CNS-ACTIVE-THERAPY"]
    assert trace.outcome == "excluded"


def test_large_lesion_excludes_the_drug_card():
    found, _ = cns_cards(patient(lesion_cm=3.8, **progressed_after_thp()))
    assert found == []


def test_her2_negative_patient_gets_no_her2_therapy_card():
    found, _ = cns_cards(patient(her2="negative", **progressed_after_thp()))
    assert found == []


def test_new_regimen_without_cns_activity_is_a_warning_at_order_select():
    state = patient(
        **progressed_after_thp(orders=(draft("trastuzumab+pertuzumab", "MedicationRequest/hp"),))
    )
    # The earlier regimen has ended, so trastuzumab + pertuzumab would be a new regimen.
    [card], _ = cns_cards(state, hook="order-select")
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Brain progression 2026-10-05: trastuzumab + pertuzumab lacks proven CNS activity"
    )
    assert suggested_codes(card) == [["194000", "224905", "2361285"], ["2267582"]]
    # "Instead" means instead: each suggestion removes the draft it replaces.
    for suggestion in card["suggestions"]:
        deletes = [a["resourceId"] for a in suggestion["actions"] if a["type"] == "delete"]
        assert deletes == ["MedicationRequest/hp"]
    assert card["suggestions"][0]["label"] == (
        "Replace trastuzumab + pertuzumab with tucatinib + trastuzumab + capecitabine"
    )
    assert {r["code"] for r in card["overrideReasons"]} >= {
        "brain-treated-locally-extracranial-controlled"
    }


def test_continuing_a_running_antibody_regimen_gets_no_warning():
    event = progression("2026-10-05")
    hp = regimen("trastuzumab+pertuzumab", "2025-01-10")
    state = patient(
        regimens=(hp,), progressions=(event,), orders=(draft("trastuzumab+pertuzumab"),)
    )
    found, _ = cns_cards(state, hook="order-sign")
    assert found == []


def test_ordering_a_cns_active_regimen_gets_no_warning():
    state = patient(**progressed_after_thp(orders=(draft("tucatinib+trastuzumab+capecitabine"),)))
    found, _ = cns_cards(state, hook="order-select")
    assert found == []
