"""TUCATINIB-INTERACTIONS: tucatinib with a strong CYP3A inducer or strong CYP2C8 inhibitor."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import UNKNOWN, DrugCourse
from tests.rules.builders import d, draft, patient, progression, regimen
from tests.rules.rendering import cards_of

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
    assert card["summary"].startswith("Tucatinib with phenytoin (strong CYP3A inducer)")
    detail = card["detail"]
    assert (
        "Order being placed: tucatinib" in detail
        and "phenytoin (taking since 2025-02-27)" in detail
    )
    assert "advises avoiding concomitant use" in detail and "levetiracetam" in detail
    assert card["source"]["url"] == "https://www.pfizermedical.com/tukysa/drug-interactions"
    assert "interacting-drug-being-replaced" in [r["code"] for r in card["overrideReasons"]]


def test_carbamazepine_is_a_strong_cyp3a_inducer_too():
    [card] = cards_of(RULE, ordering_tucatinib(taking("carbamazepine")), "order-sign")
    assert "carbamazepine" in card["summary"]


def test_gemfibrozil_gets_the_cyp2c8_advice_with_the_label_dose():
    [card] = cards_of(RULE, ordering_tucatinib(taking("gemfibrozil")), "order-select")
    assert "strong CYP2C8 inhibitor" in card["summary"]
    assert "reduce tucatinib to 100 mg twice daily" in card["detail"]
    assert "tucatinib-dose-reduced" in [r["code"] for r in card["overrideReasons"]]


def test_both_kinds_are_named_in_one_card():
    [card] = cards_of(
        RULE, ordering_tucatinib(taking("phenytoin"), taking("gemfibrozil")), "order-select"
    )
    assert (
        "phenytoin" in card["summary"]
        and "Gemfibrozil is a strong CYP2C8 inhibitor" in card["detail"]
    )


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
