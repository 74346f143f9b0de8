"""POST /cds-services/{id}/feedback through the Flask app (auth off); the audit of a hook call."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.config import Settings
from cds_service.feedback import FeedbackStore
from cds_service.services import SERVICES

SERVICE = "her2-cns-patient-view"
URL = f"/cds-services/{SERVICE}/feedback"


@pytest.fixture
def web(make_app: Callable[..., Flask], database_url: str) -> Iterator[FlaskClient]:
    app = make_app(database_url=database_url)
    yield app.test_client()
    app.extensions["cds"].feedback.close()


@pytest.fixture
def stored(settings: Settings) -> Iterator[FeedbackStore]:
    """A second handle on the app's database: what a report would read."""
    reader = FeedbackStore.from_settings(settings)
    yield reader
    reader.close()


@pytest.mark.parametrize(
    ("example", "card", "outcome"),
    [
        ("feedback-accepted", "4e0a3a1e-3283-4575-ab82-028d55fe2719", "accepted"),
        ("feedback-overridden", "f6b95768-b1c8-40dc-8385-bf3504b82ffb", "overridden"),
        ("feedback-overridden-with-reason", "9368d37b-283f-44a0-93ea-547cebab93ed", "overridden"),
    ],
)
def test_spec_feedback_is_accepted_with_200_and_stored(
    web: FlaskClient,
    stored: FeedbackStore,
    spec_feedback: dict,
    example: str,
    card: str,
    outcome: str,
) -> None:
    response = web.post(URL, json=spec_feedback[example])
    assert response.status_code == 200
    assert [(s.service_id, s.item.card_uuid, s.item.outcome) for s in stored.stored_feedback()] == [
        (SERVICE, card, outcome)
    ]


def test_feedback_posted_twice_answers_200_and_is_stored_once(
    web: FlaskClient, stored: FeedbackStore, spec_feedback: dict
) -> None:
    body = spec_feedback["feedback-overridden-with-reason"]
    assert web.post(URL, json=body).status_code == 200
    assert web.post(URL, json=body).status_code == 200
    assert len(stored.stored_feedback()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "feedback": [
                    {"card": "c1", "outcome": "maybe", "outcomeTimestamp": "2021-12-11T10:05:31Z"}
                ]
            },
            "feedback[0].outcome: 'maybe' is not one of",
        ),
        (
            {
                "feedback": [
                    {
                        "card": "c1",
                        "outcome": "accepted",
                        "outcomeTimestamp": "2021-12-11T10:05:31Z",
                    }
                ]
            },
            "'acceptedSuggestions' is a required property",
        ),
        (
            {
                "feedback": [
                    {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "yesterday"}
                ]
            },
            "feedback[0].outcomeTimestamp: 'yesterday' is not a 'date-time'",
        ),
    ],
)
def test_malformed_feedback_gets_400_naming_the_field(
    web: FlaskClient, stored: FeedbackStore, body: dict, field: str
) -> None:
    response = web.post(URL, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad-request"
    assert field in response.get_json()["message"]
    assert stored.stored_feedback() == []


def test_feedback_for_an_unknown_service_is_404(web: FlaskClient, spec_feedback: dict) -> None:
    response = web.post(
        "/cds-services/no-such-service/feedback", json=spec_feedback["feedback-overridden"]
    )
    assert response.status_code == 404


def test_an_answered_hook_call_leaves_one_audit_row_without_the_patient_id(
    web: FlaskClient, stored: FeedbackStore
) -> None:
    service = next(s for s in SERVICES if s.id == SERVICE)
    empty = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    request = {
        "hook": service.hook,
        "hookInstance": "5c1d0a9e-7b3f-4e2a-8c6d-9f0e1a2b3c4d",
        "context": {"userId": "Practitioner/prac-1", "patientId": "pat-audit-77"},
        "prefetch": {key: empty for key in sorted(service.required)},
    }
    response = web.post(f"/cds-services/{SERVICE}", json=request)
    assert response.status_code == 200
    # The row reaches the store from the service's spool, in the background: wait for it.
    assert web.application.extensions["cds"].feedback.flush()
    [entry] = stored.audit_entries()
    assert (entry.service_id, entry.hook, entry.hook_instance) == (
        SERVICE,
        service.hook,
        "5c1d0a9e-7b3f-4e2a-8c6d-9f0e1a2b3c4d",
    )
    assert entry.patient_hash == stored.patient_hash("pat-audit-77")
    assert "pat-audit-77" not in repr(entry)
    assert len(entry.cards) == len(response.get_json()["cards"])
