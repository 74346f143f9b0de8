"""Issue 17's HER2 classes over HTTP: scenario 3 (brain progression after THP, golden: the
CNS-active therapy card) with its HER2 result recorded as ISH numbers, or its diagnosis as a
free-text problem. The prefetch is filled from the service's own templates, so a code the
templates do not ask for never reaches the service here either."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cds_service.testing import cards_by_rule, hook_request, load_json, post_hook
from tests.state.support import state_of

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures/scenarios/03-progressed-after-thp.json"
LOINC = "http://loinc.org"
# What the golden (fixtures/golden/scenario-03-patient-view.json) suggests: the tucatinib triplet
# and T-DXd.
GOLDEN_SUGGESTIONS = [["194000", "224905", "2361285"], ["2267582"]]


def _observation(oid: str, code: str, value: dict) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/scenario-03"},
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "effectiveDateTime": "2024-02-15",
        **value,
    }


def _scenario(replace: dict[str, list[dict]]) -> dict:
    """Scenario 3 with resources (by id) replaced by others (none: removed)."""
    bundle = copy.deepcopy(load_json(SCENARIO))
    entries = []
    for entry in bundle["entry"]:
        rid = entry["resource"].get("id")
        if rid in replace:
            entries += [{"resource": r} for r in replace[rid]]
        else:
            entries.append(entry)
    bundle["entry"] = entries
    return bundle


def _ish(ratio: float | None, copies: float | None) -> dict:
    found = []
    if ratio is not None:
        found.append(
            _observation(
                "ish-ratio", "49683-6", {"valueQuantity": {"value": ratio, "unit": "{ratio}"}}
            )
        )
    if copies is not None:
        found.append(
            _observation(
                "ish-copies",
                "74860-8",
                {"valueQuantity": {"value": copies, "unit": "{signals}/{cell}"}},
            )
        )
    return _scenario({"scenario-03-her2-1": found})


def _free_text_problem(text: str) -> dict:
    bundle = _scenario({"scenario-03-her2-1": []})
    for entry in bundle["entry"]:
        if entry["resource"]["id"] == "scenario-03-breast-cancer-1":
            entry["resource"]["code"] = {"text": text}
    return bundle


def _cns_cards(client: FlaskClient, bundle: dict) -> list[dict]:
    result = post_hook(client, hook_request(bundle, "patient-view"))
    assert result.status == 200
    return cards_by_rule(result).get("CNS-ACTIVE-THERAPY", [])


def _suggested_codes(card: dict) -> list[list[str]]:
    return [
        sorted(
            a["resource"]["medicationCodeableConcept"]["coding"][0]["code"]
            for a in s["actions"]
            if a["type"] == "create"
        )
        for s in card["suggestions"]
    ]


def test_her2_by_ish_numbers_gives_the_cns_active_therapy_card(client: FlaskClient) -> None:
    bundle = _ish(2.4, 5.1)
    [card] = _cns_cards(client, bundle)
    assert card["indicator"] == "info"
    assert _suggested_codes(card) == GOLDEN_SUGGESTIONS
    # The card leaves HER2 out of its five "what we saw" lines; explain shows where it came from.
    assert state_of(bundle).her2.tests[0].method == "ISH group 1: ratio 2.4, 5.1 copies"


@pytest.mark.parametrize(
    ("ratio", "copies"),
    [(2.3, 3.5), (2.4, None), (None, 5.1)],
    ids=["ISH group 2 alone: not positive", "ratio alone", "copy number alone"],
)
def test_ish_numbers_that_do_not_make_her2_positive_give_no_her2_card(
    client: FlaskClient, ratio: float | None, copies: float | None
) -> None:
    assert _cns_cards(client, _ish(ratio, copies)) == []


def test_a_free_text_problem_gives_breast_cancer_and_her2_together(client: FlaskClient) -> None:
    bundle = _free_text_problem("HER2+ breast ca")
    [card] = _cns_cards(client, bundle)
    assert card["indicator"] == "info"
    assert _suggested_codes(card) == GOLDEN_SUGGESTIONS
    state = state_of(bundle)
    assert state.breast_cancer.value is True
    assert [t.method for t in state.her2.tests] == ["diagnosis: HER2+ breast ca"]


@pytest.mark.parametrize("text", ["HER2 negative breast ca", "HER2-low breast cancer"])
def test_a_free_text_her2_negative_problem_gives_no_her2_card(
    client: FlaskClient, text: str
) -> None:
    assert _cns_cards(client, _free_text_problem(text)) == []
