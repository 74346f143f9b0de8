"""POST /cds-services/{id}/feedback: the spec's examples are stored; bad bodies are named."""

from __future__ import annotations

import pytest
from hook_requests import external


@pytest.mark.parametrize(
    "example", ["feedback-accepted.json", "feedback-overridden-with-reason.json"]
)
def test_the_specs_feedback_examples_are_accepted_once(app, example):
    client = app.test_client()  # a store of its own: the counts below depend on it
    body = external(f"cds-hooks-spec/{example}")
    url = "/cds-services/her2-cns-order-select/feedback"

    first = client.post(url, json=body)
    again = client.post(url, json=body)

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.get_json() == {"new": len(body["feedback"])}
    assert again.get_json() == {"new": 0}  # the spec allows repeats; they are not new


def test_feedback_for_an_unknown_service_gets_404(client):
    response = client.post(
        "/cds-services/nope/feedback", json=external("cds-hooks-spec/feedback-accepted.json")
    )

    assert response.status_code == 404


def test_feedback_without_an_outcome_gets_400_naming_it(client):
    body = external("cds-hooks-spec/feedback-accepted.json")
    del body["feedback"][0]["outcome"]

    response = client.post("/cds-services/her2-cns-order-select/feedback", json=body)

    assert response.status_code == 400
    assert "outcome" in response.get_json()["message"]
