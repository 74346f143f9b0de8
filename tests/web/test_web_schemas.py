"""The response schema encodes every CDS Hooks 2.0 card rule: peer cards pass, broken ones fail."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hook_requests import external

from cds_service.schemas import first_error, validator

CARDS = validator("cards-response")

CARD: dict[str, Any] = {
    "uuid": "b6f1b8f4-8f5e-4c52-9d0e-0c0f6f1f2a01",
    "summary": "Lapatinib rechallenge after progression on lapatinib",
    "detail": "Progressed on lapatinib + capecitabine.",
    "indicator": "critical",
    "source": {"label": "ASCO 2022", "url": "https://example.org/guideline"},
    "selectionBehavior": "at-most-one",
    "suggestions": [
        {
            "label": "Replace with tucatinib + trastuzumab + capecitabine",
            "uuid": "7d4c4a10-1d3f-4a8e-a1b2-3c4d5e6f7a80",
            "isRecommended": True,
            "actions": [
                {
                    "type": "delete",
                    "description": "Remove the lapatinib order",
                    "resourceId": "MedicationRequest/draft-1",
                },
                {
                    "type": "create",
                    "description": "Order tucatinib",
                    "resource": {"resourceType": "MedicationRequest"},
                },
            ],
        }
    ],
    "overrideReasons": [
        {"code": "x", "system": "http://example.org/reasons", "display": "Patient preference"}
    ],
    "links": [{"label": "Guideline", "url": "https://example.org", "type": "absolute"}],
}


def response_with(**changes: Any) -> dict[str, Any]:
    card = copy.deepcopy(CARD)
    for key, value in changes.items():
        if value is DELETE:
            del card[key]
        else:
            card[key] = value
    return {"cards": [card]}


DELETE = object()
SUGGESTION = CARD["suggestions"][0]


def test_a_card_using_every_field_is_valid():
    assert first_error(CARDS, {"cards": [CARD]}) is None


def test_no_cards_is_a_valid_answer():
    assert first_error(CARDS, {"cards": []}) is None


@pytest.mark.parametrize("example", ["cds-hooks-spec/response-cards-with-suggestions.json"])
def test_the_specs_valid_examples_pass(example):
    assert first_error(CARDS, external(example)) is None


def test_inferno_valid_cards_pass():
    cards = external("inferno-davinci-crd-test-kit/valid_cards.json")

    assert first_error(CARDS, {"cards": cards}) is None


@pytest.mark.parametrize(
    ("example", "field"),
    [
        # The spec's own systemActions example omits the REQUIRED description.
        ("cds-hooks-spec/response-cards-and-systemactions.json", "systemActions[0].description"),
        # The 2.0.1 autolaunchable example omits the REQUIRED indicator.
        ("cds-hooks-spec/response-card-app-link.json", "cards[0].indicator"),
    ],
)
def test_the_specs_flawed_examples_are_caught(example, field):
    assert first_error(CARDS, external(example)).startswith(f"{field}:")


BROKEN = {
    "summary of 140 characters": (response_with(summary="x" * 140), "cards[0].summary"),
    "empty summary": (response_with(summary=""), "cards[0].summary"),
    "no summary": (response_with(summary=DELETE), "cards[0].summary"),
    "unknown indicator": (response_with(indicator="hard-stop"), "cards[0].indicator"),
    "no source": (response_with(source=DELETE), "cards[0].source"),
    "source without label": (
        response_with(source={"url": "https://example.org"}),
        "cards[0].source.label",
    ),
    "relative source url": (
        response_with(source={"label": "x", "url": "/guideline"}),
        "cards[0].source.url",
    ),
    "suggestions without selectionBehavior": (
        response_with(selectionBehavior=DELETE),
        "cards[0].selectionBehavior",
    ),
    "unknown selectionBehavior": (
        response_with(selectionBehavior="all"),
        "cards[0].selectionBehavior",
    ),
    "two recommended with at-most-one": (
        response_with(suggestions=[SUGGESTION, {**SUGGESTION, "uuid": "other"}]),
        "cards[0].suggestions",
    ),
    "suggestion without label": (
        response_with(suggestions=[{k: v for k, v in SUGGESTION.items() if k != "label"}]),
        "cards[0].suggestions[0].label",
    ),
    "empty actions": (
        response_with(suggestions=[{**SUGGESTION, "actions": []}]),
        "cards[0].suggestions[0].actions",
    ),
    "action without description": (
        response_with(
            suggestions=[
                {**SUGGESTION, "actions": [{"type": "delete", "resourceId": "MedicationRequest/a"}]}
            ]
        ),
        "cards[0].suggestions[0].actions[0].description",
    ),
    "unknown action type": (
        response_with(
            suggestions=[
                {
                    **SUGGESTION,
                    "actions": [
                        {"type": "remove", "description": "d", "resourceId": "MedicationRequest/a"}
                    ],
                }
            ]
        ),
        "cards[0].suggestions[0].actions[0].type",
    ),
    "delete without resourceId": (
        response_with(
            suggestions=[{**SUGGESTION, "actions": [{"type": "delete", "description": "d"}]}]
        ),
        "cards[0].suggestions[0].actions[0].resourceId",
    ),
    "delete by resource (deprecated)": (
        response_with(
            suggestions=[
                {
                    **SUGGESTION,
                    "actions": [
                        {
                            "type": "delete",
                            "description": "d",
                            "resourceId": "MedicationRequest/a",
                            "resource": {"resourceType": "MedicationRequest"},
                        }
                    ],
                }
            ]
        ),
        "cards[0].suggestions[0].actions[0]",
    ),
    "create without resource": (
        response_with(
            suggestions=[{**SUGGESTION, "actions": [{"type": "create", "description": "d"}]}]
        ),
        "cards[0].suggestions[0].actions[0].resource",
    ),
    "update without resource": (
        response_with(
            suggestions=[{**SUGGESTION, "actions": [{"type": "update", "description": "d"}]}]
        ),
        "cards[0].suggestions[0].actions[0].resource",
    ),
    "override reason without display": (
        response_with(overrideReasons=[{"code": "x", "system": "http://example.org"}]),
        "cards[0].overrideReasons[0].display",
    ),
    "override reason without system": (
        response_with(overrideReasons=[{"code": "x", "display": "X"}]),
        "cards[0].overrideReasons[0].system",
    ),
    "link without url": (
        response_with(links=[{"label": "x", "type": "absolute"}]),
        "cards[0].links[0].url",
    ),
    "link without type": (
        response_with(links=[{"label": "x", "url": "https://e.org"}]),
        "cards[0].links[0].type",
    ),
    "link of unknown type": (
        response_with(links=[{"label": "x", "url": "https://e.org", "type": "iframe"}]),
        "cards[0].links[0].type",
    ),
    "appContext on an absolute link": (
        response_with(
            links=[{"label": "x", "url": "https://e.org", "type": "absolute", "appContext": "{}"}]
        ),
        "cards[0].links[0]",
    ),
    "null detail": (response_with(detail=None), "cards[0].detail"),
    "empty detail": (response_with(detail=""), "cards[0].detail"),
    "empty links": (response_with(links=[]), "cards[0].links"),
    "empty overrideReasons": (response_with(overrideReasons=[]), "cards[0].overrideReasons"),
    "empty uuid": (response_with(uuid=""), "cards[0].uuid"),
    "unknown card field": (response_with(hardStop=True), "cards[0]"),
    "empty extension": (response_with(extension={}), "cards[0].extension"),
}


@pytest.mark.parametrize(("response", "field"), BROKEN.values(), ids=BROKEN.keys())
def test_each_card_rule_is_enforced_and_named(response, field):
    message = first_error(CARDS, response)

    assert message is not None and message.startswith(f"{field}:"), message


def test_cards_must_be_present():
    assert first_error(CARDS, {}) == "cards: is required"


def test_a_smart_link_may_carry_app_context():
    link = {
        "label": "App",
        "url": "https://app.example.org/launch",
        "type": "smart",
        "appContext": '{"a":1}',
    }

    assert first_error(CARDS, response_with(links=[link])) is None
