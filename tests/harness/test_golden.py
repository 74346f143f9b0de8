"""Golden comparison: what counts as the same advice, and how a difference reads."""

from __future__ import annotations

from typing import Any

from cds_service.testing import card_signature, compare_golden

TOPIC = "urn:example:rules"


def card(
    rule: str, indicator: str = "critical", *options: list[str], delete: str | None = None
) -> dict[str, Any]:
    suggestions = []
    for codes in options:
        actions: list[dict[str, Any]] = [{"type": "delete", "resourceId": delete}] if delete else []
        actions += [
            {"type": "create", "resource": {"medicationCodeableConcept": {"coding": [{"code": c}]}}}
            for c in codes
        ]
        suggestions.append({"label": "x", "actions": actions})
    return {
        "summary": "s",
        "indicator": indicator,
        "source": {"label": "l", "topic": {"system": TOPIC, "code": rule}},
        "suggestions": suggestions,
    }


def test_codes_and_their_order_matter_and_so_do_the_words_a_golden_records() -> None:
    rechallenge = card(
        "R", "critical", ["2361285", "224905", "194000"], ["2267582"], delete="MedicationRequest/d"
    )
    assert card_signature(rechallenge) == {
        "rule": "R",
        "indicator": "critical",
        "suggestions": [["194000", "224905", "2361285"], ["2267582"]],
        "deletes": ["MedicationRequest/d"],
        "override_reasons": [],
        "summary": "s",
        "labels": ["x", "x"],
        "detail": None,
    }
    golden = {"cards": [card_signature(rechallenge)]}
    assert compare_golden([rechallenge], golden) == []
    # A wrong sentence fails, and the difference names the words.
    reworded = {**rechallenge, "summary": "said differently"}
    assert compare_golden([reworded], golden) == [
        "- expected: R [critical]; suggests 194000+224905+2361285 | 2267582; "
        "deletes MedicationRequest/d",
        "  summary: expected 's'\n  summary: got      'said differently'",
        "+ got:      R [critical]; suggests 194000+224905+2361285 | 2267582; "
        "deletes MedicationRequest/d",
    ]
    # A golden that records codes only (an older file) does not compare words.
    codes_only = {k: v for k, v in golden["cards"][0].items() if k not in ("summary", "labels")}
    del codes_only["detail"]
    assert compare_golden([reworded], {"cards": [codes_only]}) == []
    swapped = card(
        "R", "critical", ["2267582"], ["194000", "224905", "2361285"], delete="MedicationRequest/d"
    )
    assert compare_golden([swapped], golden) != []


def test_keys_left_out_of_a_golden_card_mean_none() -> None:
    golden = {"cards": [{"rule": "R", "indicator": "info"}]}
    assert compare_golden([card("R", "info")], golden) == []
    assert compare_golden([card("R", "info", ["2267582"])], golden) == [
        "- expected: R [info]",
        "+ got:      R [info]; suggests 2267582",
    ]


def test_a_duplicated_card_is_a_difference() -> None:
    golden = {"cards": [{"rule": "R", "indicator": "info"}]}
    assert compare_golden([card("R", "info"), card("R", "info")], golden) == [
        "+ got:      R [info]"
    ]
