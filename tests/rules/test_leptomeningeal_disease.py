"""LEPTOMENINGEAL-DISEASE: information for breast cancer with leptomeningeal disease, HER2-aware."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import Fact
from tests.rules.builders import patient, progression
from tests.rules.rendering import cards_of, traces_of

RULE = "LEPTOMENINGEAL-DISEASE"


def test_her2_positive_card_names_the_limits_of_the_her2_data():
    [card] = cards_of(RULE, patient(lmd=True))
    assert card["indicator"] == "info"
    detail = card["detail"]
    assert "Leptomeningeal disease" in detail.split("**What we saw**")[1].split("\n\n")[1]
    assert "HER2CLIMB excluded leptomeningeal disease" in detail and "TBCRC 049" in detail
    assert "spine MRI and CSF cytology" in detail and "palliative care" in detail


def test_her2_negative_card_leaves_out_her2_therapy():
    [card] = cards_of(RULE, patient(lmd=True, her2="negative"))
    advice = card["detail"].split("_Source:")[0]
    for word in ("tucatinib", "trastuzumab", "HER2CLIMB"):
        assert word not in advice
    assert "CSF cytology" in advice


def test_it_takes_the_place_of_the_cns_active_drug_card():
    state = patient(lmd=True, progressions=(progression("2026-10-01"),))
    assert cards_of("CNS-ACTIVE-THERAPY", state) == []
    assert len(cards_of(RULE, state)) == 1


def test_silent_without_leptomeningeal_disease_and_when_unknown():
    assert cards_of(RULE, patient()) == []
    state = replace(
        patient(), leptomeningeal_disease=Fact.unknown("Conditions could not be obtained")
    )
    [trace] = traces_of(RULE, state)
    assert "leptomeningeal_disease is unknown" in trace.reason


def test_not_on_order_hooks():
    assert cards_of(RULE, patient(lmd=True), "order-select") == []
