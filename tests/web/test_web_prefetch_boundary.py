"""Unknown, never none, at the prefetch boundary: a value that is not a resource or a Bundle with
an entry list counts as not prefetched. It is fetched from fhirServer when possible; a required
key that cannot be had is a 412 naming it; an optional one makes what it holds unknown."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_service.services import PREFETCH, REQUIRED_PREFETCH
from cds_service.testing import fhir_server, load_json, post_hook

HOOKS = Path(__file__).resolve().parents[2] / "hooks"
CONTROL_05 = load_json(HOOKS / "control-05-recent-brain-mri-patient-view.json")
RECHALLENGE = load_json(HOOKS / "order-select-lapatinib-rechallenge.json")
OPTIONAL_KEYS = sorted(set(PREFETCH) - REQUIRED_PREFETCH)
MALFORMED = {
    "an empty object": {},
    "an object without resourceType": {"a": 1},
    "a Bundle whose entry is not a list": {"resourceType": "Bundle", "entry": "x"},
    "a Bundle whose entry is an object": {"resourceType": "Bundle", "entry": {"resource": {}}},
}


def with_prefetch(request: dict, key: str, value: object) -> dict:
    changed = copy.deepcopy(request)
    changed["prefetch"][key] = value
    return changed


def prefetched_resources(request: dict) -> list[dict[str, Any]]:
    """Every resource the request prefetched: what its EHR's FHIR server holds."""
    found = []
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [e["resource"] for e in value.get("entry", [])]
        elif isinstance(value, dict):
            found.append(value)
    return found


def test_control_05_as_sent_has_no_cards(client):
    result = post_hook(client, CONTROL_05)

    assert result.status == 200
    assert result.cards == []


@pytest.mark.parametrize("malformed", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("key", OPTIONAL_KEYS)
def test_a_malformed_optional_key_makes_no_false_card(client, key, malformed):
    result = post_hook(client, with_prefetch(CONTROL_05, key, malformed))

    # Before: a procedures key read as none made "Known brain metastases and no brain MRI on
    # record" and "New brain metastases ... consider SRS" (the issue's two false cards).
    assert result.status == 200
    assert [card["summary"] for card in result.cards] == []


@pytest.mark.parametrize("malformed", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_required_key_without_fhir_server_gets_412_naming_it(client, malformed):
    response = client.post(
        "/cds-services/her2-cns-order-select",
        json=with_prefetch(RECHALLENGE, "conditions", malformed),
    )

    assert response.status_code == 412
    message = response.get_json()["message"]
    assert message.startswith("required data unavailable: conditions (Condition):")
    assert "the prefetch value is unreadable" in message
    assert "no fhirServer to fetch from" in message


def test_a_resource_of_the_wrong_type_for_a_search_key_is_not_that_search(client):
    wrong = {"resourceType": "Patient", "id": RECHALLENGE["context"]["patientId"]}

    response = client.post(
        "/cds-services/her2-cns-order-select", json=with_prefetch(RECHALLENGE, "conditions", wrong)
    )

    assert response.status_code == 412
    assert (
        "not the searchset Bundle a Condition search answers with"
        in (response.get_json()["message"])
    )


def test_a_malformed_required_key_is_fetched_and_the_critical_card_stays(
    make_app: Callable[..., Flask],
):
    expected = post_hook(make_app().test_client(), RECHALLENGE).cards
    assert [card["indicator"] for card in expected] == ["critical"]
    with fhir_server(prefetched_resources(RECHALLENGE)) as base:
        client = make_app(fhir_dev_servers=(base,)).test_client()
        request = with_prefetch(RECHALLENGE, "conditions", {"resourceType": "Bundle", "entry": 7})
        request["fhirServer"] = base

        result = post_hook(client, request)

    # Before: 200 with no cards at all (the conditions read as none).
    assert result.status == 200
    assert [card["summary"] for card in result.cards] == [card["summary"] for card in expected]
    assert [card["indicator"] for card in result.cards] == ["critical"]
