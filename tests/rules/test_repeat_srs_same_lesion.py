"""REPEAT-SRS-SAME-LESION: a conditional warning about radionecrosis before re-treating."""

from __future__ import annotations

from cds_service.state.model import DraftOrder
from tests.rules.builders import patient, progression, regimen, srs
from tests.rules.rendering import cards_of, traces_of

RULE = "REPEAT-SRS-SAME-LESION"
BRAIN = "http://snomed.info/sct|12738006"


def srs_order(*sites: str, ref: str = "ServiceRequest/draft-srs") -> DraftOrder:
    keys = (BRAIN, *(s.lower() for s in sites))
    resource = {"resourceType": "ServiceRequest", "bodySite": [{"text": s} for s in sites]}
    return DraftOrder(
        ref,
        "ServiceRequest",
        True,
        procedure="srs",
        body_sites=keys,
        display="Stereotactic radiosurgery",
        resource=resource,
    )


def treated_twice(*orders: DraftOrder, **extra):
    """Scenario 1: SRS left frontal 2024-06-05, right parietal 2025-02-03, progression since."""
    return patient(
        local=(srs("2024-06-05", "Left frontal lobe"), srs("2025-02-03", "Right parietal lobe")),
        progressions=(progression("2025-01-20"), progression("2026-08-20")),
        orders=orders,
        **extra,
    )


def test_repeat_srs_to_a_treated_site_after_progression_is_a_conditional_warning():
    [card] = cards_of(RULE, treated_twice(srs_order("Left frontal lobe")), "order-select")
    assert card["indicator"] == "warning"
    assert "radionecrosis" in card["summary"] and "Left frontal lobe" in card["summary"]
    detail = card["detail"]
    assert "Order being placed: Stereotactic radiosurgery to Left frontal lobe" in detail
    assert "Earlier SRS to Left frontal lobe on 2024-06-05, about 29 months ago" in detail
    assert "Brain progression 2026-08-20: brain MRI: new lesions" in detail
    assert detail.index("2024-06-05") < detail.index("If this order re-treats the same lesion")
    assert "68.6%" in detail and "Narloch JL, Neuro-Oncology 2017" in detail
    assert (
        "perfusion MRI, amino-acid PET or tissue" in detail
        and "laser interstitial thermal therapy" in detail
    )
    assert "rec. 6.1" in detail and "Discuss at tumour board." in detail
    assert "progression-confirmed" in [r["code"] for r in card["overrideReasons"]]
    assert "suggestions" not in card


def test_only_the_order_for_the_treated_site_is_flagged_at_order_sign():
    state = treated_twice(
        srs_order("Left frontal lobe"), srs_order("Right occipital lobe", ref="ServiceRequest/new")
    )
    [card] = cards_of(RULE, state, "order-sign")
    assert "Left frontal lobe" in card["summary"]
    traces = {t.order: t.outcome for t in traces_of(RULE, state, "order-sign")}
    assert traces == {"ServiceRequest/draft-srs": "fired", "ServiceRequest/new": "not-fired"}


def test_an_order_naming_only_the_brain_cannot_be_judged_and_the_trace_says_so():
    state = treated_twice(srs_order())
    assert cards_of(RULE, state, "order-select") == []
    [trace] = traces_of(RULE, state, "order-select")
    assert "srs_order_site_treated_before is unknown" in trace.reason


def test_no_progression_since_the_earlier_srs_is_silent():
    state = patient(
        local=(srs("2026-09-01", "Left frontal lobe"),),
        progressions=(progression("2026-08-20"),),
        orders=(srs_order("Left frontal lobe"),),
    )
    assert cards_of(RULE, state, "order-select") == []


def test_a_concurrent_antibody_drug_conjugate_is_named():
    tdxd = regimen("t-dxd", "2026-09-01")
    [card] = cards_of(
        RULE, treated_twice(srs_order("Left frontal lobe"), regimens=(tdxd,)), "order-select"
    )
    assert "Concurrent antibody-drug conjugate (trastuzumab deruxtecan)" in card["detail"]
    [plain] = cards_of(RULE, treated_twice(srs_order("Left frontal lobe")), "order-select")
    assert "antibody-drug conjugate" not in plain["detail"]


def test_never_on_patient_view_and_never_critical():
    assert cards_of(RULE, treated_twice(srs_order("Left frontal lobe")), "patient-view") == []
    from tests.rules.rendering import KNOWLEDGE

    assert {v.indicator for v in KNOWLEDGE.rule(RULE).variants} == {"warning"}
