"""Feedback bodies from the CDS Hooks spec are validated, stored as sent, and stored once."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from cds_service.errors import BadRequest
from cds_service.feedback import FeedbackStore

RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
REASON_SYSTEM = "https://example.com/cds-hooks/override-reason-system"


def _outcome(**fields: object) -> dict:
    entry = {
        "card": "8d3e4c2b-5f7a-4b1c-9e2d-1a2b3c4d5e6f",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-20T09:30:00Z",
    }
    entry.update(fields)
    return {"feedback": [{k: v for k, v in entry.items() if v is not None}]}


def _stored(store: FeedbackStore) -> list[tuple]:
    """What a committee could read back: one tuple per stored feedback."""
    return [
        (
            s.service_id,
            s.item.card_uuid,
            s.item.outcome,
            s.item.outcome_at.isoformat(),
            s.item.accepted_suggestions,
            s.item.reason_system,
            s.item.reason_code,
            s.item.user_comment,
        )
        for s in store.stored_feedback()
    ]


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        (
            "feedback-accepted",
            (
                "svc",
                "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "accepted",
                "2021-12-11T10:05:31+00:00",
                ("e56e1945-20b3-4393-8503-a1a20fd73152",),
                None,
                None,
                None,
            ),
        ),
        (
            "feedback-overridden",
            (
                "svc",
                "f6b95768-b1c8-40dc-8385-bf3504b82ffb",
                "overridden",
                "2020-12-11T00:00:00+00:00",
                (),
                None,
                None,
                None,
            ),
        ),
        (
            "feedback-overridden-with-reason",
            (
                "svc",
                "9368d37b-283f-44a0-93ea-547cebab93ed",
                "overridden",
                "2020-12-11T00:00:00+00:00",
                (),
                REASON_SYSTEM,
                "d7ecf885",
                "A comment entered by the clinician.",
            ),
        ),
    ],
)
def test_spec_feedback_example_is_stored_as_sent(
    store: FeedbackStore, spec_feedback: dict, example: str, expected: tuple
) -> None:
    assert store.record_feedback("svc", spec_feedback[example], received_at=RECEIVED) == 1
    assert _stored(store) == [expected]
    assert store.stored_feedback()[0].received_at == RECEIVED


def test_same_feedback_sent_twice_is_stored_once(store: FeedbackStore, spec_feedback: dict) -> None:
    body = spec_feedback["feedback-overridden-with-reason"]
    assert store.record_feedback("svc", body, received_at=RECEIVED) == 1
    later = RECEIVED + timedelta(minutes=5)
    assert store.record_feedback("svc", body, received_at=later) == 0
    assert len(store.stored_feedback()) == 1
    assert store.stored_feedback()[0].received_at == RECEIVED


def test_a_body_repeating_an_item_stores_it_once(store: FeedbackStore, spec_feedback: dict) -> None:
    item = spec_feedback["feedback-accepted"]["feedback"][0]
    assert store.record_feedback("svc", {"feedback": [item, item]}, received_at=RECEIVED) == 1
    assert len(store.stored_feedback()) == 1


def test_same_instant_written_with_another_offset_is_the_same_feedback(
    store: FeedbackStore,
) -> None:
    assert store.record_feedback("svc", _outcome(), received_at=RECEIVED) == 1
    same_instant = _outcome(outcomeTimestamp="2026-11-20T10:30:00+01:00")
    assert store.record_feedback("svc", same_instant, received_at=RECEIVED) == 0
    assert [s.item.outcome_at for s in store.stored_feedback()] == [
        datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"outcomeTimestamp": "2026-11-20T09:31:00Z"},
        {"card": "0f1e2d3c-4b5a-4968-8776-655443322110"},
        {"overrideReason": {"reason": {"code": "x1", "system": REASON_SYSTEM}}},
    ],
    ids=["later-outcome", "other-card", "with-reason"],
)
def test_feedback_differing_in_what_happened_is_stored_apart(
    store: FeedbackStore, change: dict
) -> None:
    store.record_feedback("svc", _outcome(), received_at=RECEIVED)
    assert store.record_feedback("svc", _outcome(**change), received_at=RECEIVED) == 1
    assert len(store.stored_feedback()) == 2


def test_the_same_feedback_for_another_service_is_kept_for_each(
    store: FeedbackStore, spec_feedback: dict
) -> None:
    body = spec_feedback["feedback-overridden"]
    store.record_feedback("her2-cns-patient-view", body, received_at=RECEIVED)
    store.record_feedback("her2-cns-order-sign", body, received_at=RECEIVED)
    assert sorted(s.service_id for s in store.stored_feedback()) == [
        "her2-cns-order-sign",
        "her2-cns-patient-view",
    ]


def test_feedback_for_a_card_we_never_showed_is_still_stored(store: FeedbackStore) -> None:
    # No audit row names this card: stored, and the report counts it apart as unmatched.
    assert store.record_feedback("svc", _outcome(), received_at=RECEIVED) == 1
    assert store.audit_entries() == []
    assert _stored(store)[0][1] == "8d3e4c2b-5f7a-4b1c-9e2d-1a2b3c4d5e6f"


MALFORMED = [
    ({"feedback": [{"outcome": "maybe"}]}, "feedback[0].outcome: 'maybe' is not one of"),
    (_outcome(card=None), "feedback[0]: 'card' is a required property"),
    (_outcome(card=42), "feedback[0].card: 42 is not of type 'string'"),
    (_outcome(outcome=None), "feedback[0]: 'outcome' is a required property"),
    (
        _outcome(outcome="maybe"),
        "feedback[0].outcome: 'maybe' is not one of ['accepted', 'overridden']",
    ),
    (
        _outcome(outcome="accepted"),
        "feedback[0]: 'acceptedSuggestions' is a required property when outcome is 'accepted'",
    ),
    (
        _outcome(outcome="accepted", acceptedSuggestions=[{"uuid": "e56e"}]),
        "feedback[0].acceptedSuggestions[0]: 'id' is a required property",
    ),
    (
        _outcome(outcome="accepted", acceptedSuggestions=[]),
        "feedback[0].acceptedSuggestions: [] should be non-empty",
    ),
    (
        _outcome(overrideReason={}),
        "feedback[0].overrideReason: needs at least one of 'reason', 'userComment'",
    ),
    (
        _outcome(overrideReason={"reason": {"code": "d7ecf885"}}),
        "feedback[0].overrideReason.reason: 'system' is a required property",
    ),
    (
        _outcome(overrideReason={"reason": "d7ecf885"}),
        "feedback[0].overrideReason.reason: 'd7ecf885' is not of type 'object'",
    ),
    (
        _outcome(overrideReason={"userComment": 7}),
        "feedback[0].overrideReason.userComment: 7 is not of type 'string'",
    ),
    (_outcome(outcomeTimestamp=None), "feedback[0]: 'outcomeTimestamp' is a required property"),
    (
        _outcome(outcomeTimestamp="2020-12-11"),
        "feedback[0].outcomeTimestamp: '2020-12-11' is not a 'date-time'",
    ),
    (
        _outcome(outcomeTimestamp="2020-12-11T00:00:00"),
        "feedback[0].outcomeTimestamp: '2020-12-11T00:00:00' is not a 'date-time'",
    ),
    (
        _outcome(outcomeTimestamp="2020-02-30T00:00:00Z"),
        "feedback[0].outcomeTimestamp: '2020-02-30T00:00:00Z' is not a 'date-time'",
    ),
    ({"feedback": []}, "feedback: [] should be non-empty"),
    ({"feedback": {"card": "x"}}, "feedback: {'card': 'x'} is not of type 'array'"),
    ({"cards": []}, "body: 'feedback' is a required property"),
    ([], "body: [] is not of type 'object'"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_feedback_is_refused_naming_the_field(
    store: FeedbackStore, body: object, message: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        store.record_feedback("svc", body, received_at=RECEIVED)  # type: ignore[arg-type]
    assert message in refused.value.message
    assert refused.value.to_json()["error"] == "bad-request"
    assert store.stored_feedback() == []


def test_one_bad_item_refuses_the_whole_body(store: FeedbackStore, spec_feedback: dict) -> None:
    body = copy.deepcopy(spec_feedback["feedback-accepted"])
    body["feedback"].append({"card": "x", "outcome": "maybe", "outcomeTimestamp": "nope"})
    with pytest.raises(BadRequest) as refused:
        store.record_feedback("svc", body, received_at=RECEIVED)
    assert "feedback[1].outcome" in refused.value.message
    assert "feedback[1].outcomeTimestamp" in refused.value.message
    assert store.stored_feedback() == []
