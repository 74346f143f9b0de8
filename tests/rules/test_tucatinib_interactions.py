"""TUCATINIB-INTERACTIONS: tucatinib with a drug of the TUKYSA label's interaction classes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cds_service.state.model import UNKNOWN, DrugCourse
from cds_service.state.terminology import agents_of
from tests.rules.builders import d, draft, patient, progression, regimen
from tests.rules.rendering import cards_of
from tools import make_interaction_valuesets

RULE = "TUCATINIB-INTERACTIONS"


def taking(agent: str, start: str = "2025-02-27", end: str | None = None) -> DrugCourse:
    return DrugCourse(
        agent,
        d(start),
        d(end) if end else None,
        end is None,
        UNKNOWN if end is None else "other",
        (f"MedicationStatement/{agent}",),
    )


def ordering_tucatinib(*others: DrugCourse, orders=None):
    """Control 8: brain progression on trastuzumab + pertuzumab; tucatinib ordered."""
    hp = regimen("trastuzumab+pertuzumab", "2022-05-02")
    orders = orders or (
        draft("tucatinib", "MedicationRequest/tuc"),
        draft("capecitabine", "MedicationRequest/cape"),
    )
    state = patient(regimens=(hp,), progressions=(progression("2026-10-15"),), orders=orders)
    return replace(state, courses=state.courses + others)


def test_phenytoin_draws_a_warning_naming_both_drugs_and_the_label_advice():
    [card] = cards_of(RULE, ordering_tucatinib(taking("phenytoin")), "order-select")
    assert card["indicator"] == "warning"
    assert card["summary"] == "Tucatinib with phenytoin: interaction the label warns about"
    detail = card["detail"]
    assert "Order being placed: tucatinib" in detail
    assert "Interacting: phenytoin (taking since 2025-02-27)" in detail
    assert "- Phenytoin (strong CYP3A or moderate CYP2C8 inducer): lowers tucatinib" in detail
    assert "the label advises avoiding the combination" in detail and "levetiracetam" in detail
    assert card["source"]["url"] == "https://www.pfizermedical.com/tukysa/drug-interactions"
    assert "interacting-drug-being-replaced" in [r["code"] for r in card["overrideReasons"]]


def test_carbamazepine_is_a_strong_cyp3a_inducer_too():
    [card] = cards_of(RULE, ordering_tucatinib(taking("carbamazepine")), "order-sign")
    assert "carbamazepine" in card["summary"]


@pytest.mark.parametrize("inducer", ["rifampin", "enzalutamide", "phenobarbital", "st-johns-wort"])
def test_every_inducer_of_the_label_classes_is_avoided(inducer: str) -> None:
    [card] = cards_of(RULE, ordering_tucatinib(taking(inducer)), "order-select")
    assert card["indicator"] == "warning"
    assert "strong CYP3A or moderate CYP2C8 inducer" in card["detail"]
    assert "t-dxd" not in card["summary"] and "st-johns-wort" not in card["summary"]
    # The antiepileptic alternative is said for antiepileptics only.
    assert ("levetiracetam" in card["detail"]) == (inducer == "phenobarbital")


def test_gemfibrozil_gets_the_cyp2c8_advice_with_the_label_dose():
    [card] = cards_of(RULE, ordering_tucatinib(taking("gemfibrozil")), "order-select")
    assert card["indicator"] == "warning"
    assert "- Gemfibrozil (strong CYP2C8 inhibitor)" in card["detail"]
    assert "reduce tucatinib to 100 mg twice daily" in card["detail"]
    assert "dose-adjusted-as-label-directs" in [r["code"] for r in card["overrideReasons"]]


def test_a_moderate_cyp2c8_inhibitor_is_information_to_monitor():
    [card] = cards_of(RULE, ordering_tucatinib(taking("clopidogrel")), "order-select")
    assert card["indicator"] == "info"
    assert card["summary"] == "Tucatinib with clopidogrel: monitor as the label advises"
    assert "monitoring more often for tucatinib toxicity" in card["detail"]


def test_a_narrow_margin_cyp3a_substrate_is_a_warning():
    [card] = cards_of(RULE, ordering_tucatinib(taking("midazolam")), "order-select")
    assert card["indicator"] == "warning"
    assert "strong CYP3A inhibitor, raises its levels" in card["detail"]


def test_every_interacting_drug_is_named_in_one_card_most_serious_first():
    state = ordering_tucatinib(taking("clopidogrel"), taking("phenytoin"), taking("gemfibrozil"))
    [card] = cards_of(RULE, state, "order-select")
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Tucatinib with phenytoin, gemfibrozil, clopidogrel: interaction the label warns about"
    )
    lines = [line for line in card["detail"].splitlines() if line.startswith("- ")]
    assert [line.split(" (")[0] for line in lines[-3:]] == [
        "- Phenytoin",
        "- Gemfibrozil",
        "- Clopidogrel",
    ]


RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.mark.parametrize(
    ("concept", "agents"),
    [
        ({"coding": [{"system": RXNORM, "code": "9384"}]}, {"rifampin"}),  # VERIFIED ingredient
        ({"text": "Rifadin 300 mg capsule"}, {"rifampin"}),
        ({"text": "XTANDI 40 MG oral tablet"}, {"enzalutamide"}),  # by name: code unverified
        ({"coding": [{"system": RXNORM, "code": "32968"}]}, {"clopidogrel"}),
        ({"text": "St. John's Wort 300 mg"}, {"st-johns-wort"}),
        # The usual alternative antiepileptic interacts with none of the label's classes.
        ({"text": "levetiracetam 500 mg tablet"}, set()),
    ],
)
def test_interacting_drugs_are_recognised_by_verified_code_or_by_name(concept, agents) -> None:
    assert agents_of(concept) == agents


def test_the_value_sets_agree_with_the_interaction_knowledge_file() -> None:
    assert make_interaction_valuesets.main(["--check"]) == 0


def test_an_interacting_drug_ordered_alongside_counts():
    orders = (
        draft("tucatinib", "MedicationRequest/tuc"),
        draft("phenytoin", "MedicationRequest/phe"),
    )
    [card] = cards_of(RULE, ordering_tucatinib(orders=orders), "order-sign")
    assert "phenytoin (ordered now)" in card["detail"]


def test_a_stopped_inducer_and_no_interacting_drug_are_silent():
    assert (
        cards_of(
            RULE,
            ordering_tucatinib(taking("phenytoin", "2025-02-27", "2026-01-10")),
            "order-select",
        )
        == []
    )
    assert cards_of(RULE, ordering_tucatinib(), "order-select") == []


def test_phenytoin_without_a_tucatinib_order_is_silent():
    state = ordering_tucatinib(taking("phenytoin"), orders=(draft("lapatinib"),))
    assert cards_of(RULE, state, "order-select") == []
