"""MASS-EFFECT-LOCAL-THERAPY: a large or symptomatic brain metastasis is treated locally first."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import LocalTherapy
from tests.rules.builders import d, draft, patient, progression, regimen
from tests.rules.rendering import cards_of, run, traces_of

RULE = "MASS-EFFECT-LOCAL-THERAPY"


def cerebellar(**extra):
    """Scenario 4: solitary 3.8 cm cerebellar metastasis with mass effect, adjuvant therapy done."""
    done = regimen(
        "trastuzumab+pertuzumab+docetaxel+carboplatin", "2023-02-06", "2024-02-12", "completed"
    )
    return patient(mass_effect=True, lesion_cm=3.8, regimens=(done,), **extra)


def test_patient_view_warns_local_therapy_first_with_facts_and_source():
    [card] = cards_of(RULE, cerebellar())
    assert card["indicator"] == "warning"
    # Size is said as "large", beside the recorded mass effect, never as mass effect itself.
    assert card["summary"] == (
        "Mass effect recorded; large brain lesion (3.8 cm): "
        "neurosurgical evaluation and local therapy first"
    )
    detail = card["detail"]
    assert detail.index("**What we saw**") < detail.index("neurosurgical evaluation")
    assert "- Mass effect recorded; large brain lesion (3.8 cm)" in detail
    assert "Brain metastases since 2024-05-14" in detail
    assert "radiotherapy to the cavity" in detail and "corticosteroids" in detail
    assert "comes afterwards, not instead" in detail
    assert card["source"]["label"].startswith("ASCO-SNO-ASTRO 2022")
    assert card["source"]["url"].startswith("https://www.astro.org/")
    assert "suggestions" not in card


def test_ordering_the_tucatinib_triplet_gets_the_local_therapy_warning_and_no_drug_card():
    event = progression("2026-11-16")
    state = cerebellar(progressions=(event,), orders=(draft("tucatinib+trastuzumab+capecitabine"),))
    rendered, _ = run(state, "order-select")
    assert [c["source"]["topic"]["code"] for c in rendered] == [RULE]
    [card] = rendered
    assert card["indicator"] == "warning"
    assert "New order: tucatinib + trastuzumab + capecitabine" in card["detail"]
    assert [r["code"] for r in card["overrideReasons"]] == [
        "local-therapy-planned",
        "not-a-candidate-for-local-therapy",
        "other",
    ]


def test_her2_negative_patient_gets_the_card_without_her2_therapy():
    [card] = cards_of(RULE, cerebellar(her2="negative"))
    assert card["indicator"] == "warning"
    for word in ("HER2", "tucatinib", "trastuzumab"):
        assert word not in card["detail"]


def test_ordering_the_resection_itself_draws_no_card():
    resection = replace(
        draft("trastuzumab", "ServiceRequest/resection"), agents=frozenset(), procedure="resection"
    )
    assert cards_of(RULE, cerebellar(orders=(resection,)), "order-sign") == []


def test_continuing_a_running_antibody_is_not_drug_therapy_in_place_of_surgery():
    running = regimen("trastuzumab+pertuzumab", "2025-01-10")
    state = patient(
        mass_effect=True, lesion_cm=3.8, regimens=(running,), orders=(draft("trastuzumab"),)
    )
    assert cards_of(RULE, state, "order-sign") == []


def test_silent_once_the_lesion_has_been_resected():
    resected = LocalTherapy(
        "resection", d("2026-11-20"), d("2026-11-20"), ("Left cerebellar hemisphere",)
    )
    state = replace(
        cerebellar(),
        brain_metastases_onset=replace(cerebellar().brain_metastases_onset, value=d("2026-11-16")),
        local_therapies=(resected,),
    )
    assert cards_of(RULE, state) == []
    [trace] = traces_of(RULE, state)
    assert trace.outcome == "excluded"


def test_small_lesion_without_mass_effect_draws_no_card():
    assert cards_of(RULE, patient(lesion_cm=1.2)) == []


def test_unknown_mass_effect_and_size_stay_silent_and_the_trace_says_so():
    [trace] = traces_of(RULE, patient())
    assert trace.outcome == "not-fired"
    assert "mass_effect_or_large_lesion is unknown" in trace.reason
