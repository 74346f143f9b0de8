"""Issue 17's lesion classes over HTTP, with the card an oncologist expects.

Lesion identity: a new lesion on the other side (laterality as the mCODE qualifier, as site text
or as a pre-coordinated structure, and the report's own words) is not the treated lesion: no
repeat-SRS / radionecrosis warning; the same order to the treated side still gets it.
Lesion size and mass effect: the largest dimension counts whatever the spelling; a large lesion
is "large", never "mass effect recorded"; mass effect only where the record says so.
"""

from __future__ import annotations

import pytest

from cds_service.state.lesions import LATERALITY_URL
from cds_service.testing import cards_by_rule, hook_request, post_hook
from tests.state.build_fixtures import BRAIN, LOINC, SCT, cc
from tests.web.lesion_records import her2_patient, srs_order, treated_right_frontal

REPEAT_SRS = "REPEAT-SRS-SAME-LESION"
MASS_EFFECT = "MASS-EFFECT-LOCAL-THERAPY"
LEFT, RIGHT = "7771000", "24028007"


def _qualified(side: str, text: str) -> dict:
    site = cc(BRAIN, text=text)
    site["extension"] = [
        {"url": LATERALITY_URL, "valueCodeableConcept": cc({"system": SCT, "code": side})}
    ]
    return site


# How the treated site and the ordered site are recorded: (SRS Procedure site, order site on the
# other side, order site on the treated side).
SITES = {
    "mCODE laterality qualifier": (
        _qualified(RIGHT, "Frontal lobe"),
        _qualified(LEFT, "Frontal lobe"),
        _qualified(RIGHT, "Frontal lobe"),
    ),
    "site text": (
        cc(BRAIN, text="R frontal"),
        cc(BRAIN, text="left frontal"),
        cc(text="Rt frontal"),
    ),
    "pre-coordinated structure": (
        cc(text="Right frontal lobe structure"),
        cc(text="Left frontal lobe structure"),
        cc(text="Right frontal lobe structure"),
    ),
}


@pytest.mark.parametrize("representation", sorted(SITES))
def test_a_new_lesion_on_the_other_side_is_not_the_treated_lesion(client, representation) -> None:
    treated, other_side, same_side = SITES[representation]
    bundle = treated_right_frontal(
        treated, "New left frontal lesion; treated right lesion smaller."
    )
    other = post_hook(
        client, hook_request(bundle, "order-select", draft_orders=[srs_order(other_side)])
    )
    assert other.status == 200
    assert REPEAT_SRS not in cards_by_rule(other)
    # The treated right lesion is smaller: repeat SRS to it is not after progression there.
    same = post_hook(
        client, hook_request(bundle, "order-select", draft_orders=[srs_order(same_side)])
    )
    assert REPEAT_SRS not in cards_by_rule(same)
    # Control: when the treated lesion itself enlarges, the same order is warned about.
    enlarging = treated_right_frontal(treated, "Treated right frontal lesion enlarging.")
    same = post_hook(
        client, hook_request(enlarging, "order-select", draft_orders=[srs_order(same_side)])
    )
    (card,) = cards_by_rule(same)[REPEAT_SRS]
    assert card["indicator"] == "warning"
    assert "radionecrosis" in card["summary"]


def _lesion_patient(conclusion: str) -> dict:
    p, primary = her2_patient("size")
    p.brain_mets("2026-10-01", primary)
    p.brain_mri("2026-10-01", conclusion)
    return p.bundle("brain lesion measured in the report")


@pytest.mark.parametrize(
    ("conclusion", "size"),
    [
        ("Left cerebellar metastasis 3.2 x 2.5 x 2.8 cm.", "3.2 cm"),
        ("Left cerebellar metastasis 3.2 cm x 2.5 cm x 2.8 cm.", "3.2 cm"),
        ("Left cerebellar metastasis 3.8 x 3.1 x 3.6 cm.", "3.8 cm"),
        ("Left cerebellar metastasis 38 x 31 x 36 mm.", "3.8 cm"),
    ],
)
def test_a_large_lesion_is_large_never_mass_effect(client, conclusion: str, size: str) -> None:
    result = post_hook(client, hook_request(_lesion_patient(conclusion), "patient-view"))
    assert result.status == 200
    (card,) = cards_by_rule(result)[MASS_EFFECT]
    shown = card["summary"] + card["detail"]
    assert size in shown
    assert "mass effect recorded" not in shown


def test_a_small_lesion_gets_no_mass_effect_card(client) -> None:
    result = post_hook(
        client, hook_request(_lesion_patient("Left cerebellar 2.1 x 1.5 x 1.8 cm."), "patient-view")
    )
    assert result.status == 200
    assert MASS_EFFECT not in cards_by_rule(result)


def test_mass_effect_in_words_is_recorded(client) -> None:
    conclusion = "Left cerebellar metastasis 2.4 cm with mass effect on the fourth ventricle."
    result = post_hook(client, hook_request(_lesion_patient(conclusion), "patient-view"))
    (card,) = cards_by_rule(result)[MASS_EFFECT]
    assert "mass effect recorded" in card["detail"].lower()


def test_a_tumor_size_observation_in_mm(client) -> None:
    p, primary = her2_patient("size")
    mets = p.brain_mets("2026-10-01", primary)
    p.add(
        "Observation",
        "tumor-size",
        {
            "status": "final",
            "code": cc({"system": LOINC, "code": "21889-1", "display": "Size Tumor"}),
            "effectiveDateTime": "2026-10-01",
            "focus": [p.ref(mets)],
            "component": [
                {
                    "code": cc({"system": LOINC, "code": "33728-7"}),
                    "valueQuantity": {"value": 34, "unit": "mm", "code": "mm"},
                }
            ],
        },
    )
    result = post_hook(client, hook_request(p.bundle("tumour size"), "patient-view"))
    (card,) = cards_by_rule(result)[MASS_EFFECT]
    assert "3.4 cm" in card["detail"] and "mass effect recorded" not in card["detail"]


@pytest.mark.parametrize(
    "body_site",
    [
        [{"extension": "left"}],
        [{"extension": [5, {"url": LATERALITY_URL, "valueCodeableConcept": "left"}]}],
        [{"extension": [{"url": LATERALITY_URL}]}, "R frontal", None],
        {"text": "left frontal"},
    ],
    ids=["extension not a list", "odd extensions", "odd sites", "bodySite not a list"],
)
def test_a_malformed_draft_order_site_gets_no_error(client, body_site) -> None:
    """Draft orders are read as sent (no view checks them): a malformed site names no side."""
    bundle = treated_right_frontal(
        SITES["site text"][0], "New left frontal lesion; treated right lesion smaller."
    )
    order = dict(srs_order(cc(BRAIN)), bodySite=body_site)
    result = post_hook(client, hook_request(bundle, "order-select", draft_orders=[order]))
    assert result.status == 200, result.body
    assert isinstance(result.body["cards"], list)
