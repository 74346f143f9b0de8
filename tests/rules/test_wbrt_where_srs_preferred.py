"""WBRT-WHERE-SRS-PREFERRED: whole-brain radiotherapy ordered for 1-4 lesions, good performance status."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import Fact
from tests.rules.builders import draft, patient, performance, procedure_order
from tests.rules.rendering import cards_of, created_codes

RULE = "WBRT-WHERE-SRS-PREFERRED"
WBRT = procedure_order(
    "wbrt", "ServiceRequest/wbrt", "Whole brain radiotherapy 30 Gy in 10 fractions"
)


ECOG_1 = performance("ECOG", 1)


def ordering_wbrt(lesions, ps=ECOG_1, *extra_orders, lmd=False):
    state = patient(orders=(WBRT, *extra_orders), lmd=lmd)
    return replace(state, brain_lesion_count=Fact(lesions), performance_status=ps)


def test_two_lesions_at_ecog_1_warns_that_srs_alone_is_preferred():
    [card] = cards_of(RULE, ordering_wbrt(2), "order-select")
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Whole-brain radiotherapy ordered for 2 brain lesions, ECOG 1: SRS alone is preferred"
    )
    assert "Order being placed: Whole brain radiotherapy 30 Gy in 10 fractions" in card["detail"]
    assert "memantine and use hippocampal avoidance" in card["detail"]
    assert "HR 0.74" in card["detail"]
    replace_with_srs, memantine = card["suggestions"]
    assert replace_with_srs["label"] == "Replace whole-brain radiotherapy with SRS"
    assert replace_with_srs["actions"][0] == {
        "type": "delete",
        "description": "Remove the draft order for Whole brain radiotherapy 30 Gy in 10 fractions",
        "resourceId": "ServiceRequest/wbrt",
    }
    assert created_codes(card) == [["77432"], ["996561"]]
    assert memantine["label"] == "Keep whole-brain radiotherapy; add memantine"
    assert card["selectionBehavior"] == "at-most-one"
    assert {r["code"] for r in card["overrideReasons"]} == {
        "not-an-srs-candidate",
        "patient-preference",
        "other",
    }


def test_one_lesion_is_said_in_the_singular():
    [card] = cards_of(RULE, ordering_wbrt(1), "order-sign")
    assert "for 1 brain lesion, ECOG 1" in card["summary"]


def test_memantine_already_drafted_is_not_suggested_again():
    memantine = replace(draft("memantine", "MedicationRequest/mem"), agents=frozenset())
    [card] = cards_of(RULE, ordering_wbrt(2, performance("ECOG", 1), memantine), "order-select")
    assert [s["label"] for s in card["suggestions"]] == [
        "Replace whole-brain radiotherapy with SRS"
    ]


def test_eight_lesions_is_where_wbrt_belongs_no_card():
    assert cards_of(RULE, ordering_wbrt(8), "order-select") == []


def test_poor_or_unknown_performance_status_is_silent():
    assert cards_of(RULE, ordering_wbrt(2, performance("ECOG", 3)), "order-select") == []
    assert cards_of(RULE, ordering_wbrt(2, performance("KPS", 60)), "order-select") == []
    assert cards_of(RULE, ordering_wbrt(2, Fact.unknown()), "order-select") == []


def test_leptomeningeal_disease_is_silent():
    assert cards_of(RULE, ordering_wbrt(2, lmd=True), "order-select") == []


def test_unknown_lesion_count_is_silent():
    state = replace(ordering_wbrt(2), brain_lesion_count=Fact.unknown())
    assert cards_of(RULE, state, "order-select") == []
