"""LOCAL-THERAPY-FIRST: new brain metastases, extracranial disease controlled: SRS, keep therapy."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import Fact
from tests.rules.builders import d, draft, patient, progression, regimen, srs
from tests.rules.rendering import cards_of, created_codes, run, traces_of

RULE = "LOCAL-THERAPY-FIRST"


def new_mets_stable_on_hp(**extra):
    """Scenario 2: two new brain metastases, extracranial disease stable on HP"""
    hp = regimen("trastuzumab+pertuzumab", "2023-10-02")
    state = patient(regimens=(hp,), **extra)
    return replace(
        state,
        brain_metastases_onset=Fact(d("2026-11-02"), ("Condition/brain",)),
        brain_lesion_count=Fact(2),
    )


def test_patient_view_advises_srs_and_keeping_the_current_regimen():
    [card] = cards_of(RULE, new_mets_stable_on_hp())
    assert card["indicator"] == "info"
    assert (
        card["summary"] == "2 new brain metastases, extracranial disease controlled: "
        "SRS, and keep trastuzumab + pertuzumab"
    )
    detail = card["detail"]
    for seen in (
        "Brain metastases since 2026-11-02",
        "No SRS, whole-brain radiotherapy or resection on record",
        "Extracranial disease stable",
        "Current therapy: trastuzumab + pertuzumab (since 2023-10-02)",
    ):
        assert seen in detail
    assert detail.index("Extracranial disease stable") < detail.index("SRS alone, or surgery")
    # Rec. 8.1 is not in the verified ASCO table: the statement rests on ASCO-SNO-ASTRO 2022.
    uncounted = replace(new_mets_stable_on_hp(), brain_lesion_count=Fact.unknown())
    assert cards_of(RULE, uncounted)[0]["summary"].startswith("New brain metastases, extracranial")
    assert "ASCO-SNO-ASTRO 2022" in detail and "rec. 8.1" not in detail
    assert "tucatinib + trastuzumab + capecitabine (ASCO 2022 rec. 7.1)" in detail
    [srs_order] = card["suggestions"]
    assert created_codes(card) == [["77432"]] and srs_order["label"].startswith("Order SRS")


def test_a_new_regimen_ordered_draws_no_switching_not_required_card():
    # "Switching is not required" has nothing to act on (CLINICAL_RULES.md, "Proportionate").
    state = new_mets_stable_on_hp(orders=(draft("tucatinib+capecitabine"),))
    assert cards_of(RULE, state, "order-select") == []


def test_order_select_of_srs_alone_is_silent():
    srs_order = replace(
        draft("trastuzumab", "ServiceRequest/srs"), agents=frozenset(), procedure="srs"
    )
    assert cards_of(RULE, new_mets_stable_on_hp(orders=(srs_order,)), "order-select") == []


def test_it_speaks_instead_of_the_cns_active_drug_card():
    # A brain disease-status "worsened" would make CNS-ACTIVE-THERAPY offer a switch.
    state = new_mets_stable_on_hp(progressions=(progression("2026-11-02"),))
    rendered, evaluation = run(state)
    assert "CNS-ACTIVE-THERAPY" not in [c["source"]["topic"]["code"] for c in rendered]
    assert [
        t.reason
        for t in evaluation.traces
        if t.rule_id == "CNS-ACTIVE-THERAPY" and t.outcome == "suppressed"
    ] == [
        "suppressed by LOCAL-THERAPY-FIRST: newly diagnosed, untreated brain metastases: local therapy first"
    ]
    # One trace per rule: never "fired" and "suppressed" side by side.
    assert [t.outcome for t in evaluation.traces if t.rule_id == "CNS-ACTIVE-THERAPY"] == [
        "suppressed"
    ]
    assert len(cards_of(RULE, state)) == 1


def test_silent_after_local_therapy():
    assert cards_of(RULE, new_mets_stable_on_hp(local=(srs("2026-11-15"),))) == []


def test_silent_when_extracranial_disease_progresses():
    state = replace(new_mets_stable_on_hp(), extracranial_status=Fact("progressing"))
    assert cards_of(RULE, state) == []


def test_unknown_extracranial_status_stays_silent_and_the_trace_says_so():
    state = replace(new_mets_stable_on_hp(), extracranial_status=Fact.unknown("no status recorded"))
    [trace] = traces_of(RULE, state)
    assert trace.outcome == "not-fired" and "extracranial_status is unknown" in trace.reason


def test_more_than_four_lesions_is_not_this_situation():
    state = replace(new_mets_stable_on_hp(), brain_lesion_count=Fact(6))
    assert cards_of(RULE, state) == []


def test_a_large_lesion_leaves_the_word_to_the_mass_effect_rule():
    state = new_mets_stable_on_hp(lesion_cm=3.8, mass_effect=True)
    assert cards_of(RULE, state) == []
    assert len(cards_of("MASS-EFFECT-LOCAL-THERAPY", state)) == 1


def test_her2_negative_gets_no_card():
    assert cards_of(RULE, new_mets_stable_on_hp(her2="negative")) == []
