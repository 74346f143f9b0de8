"""Feedback the store could not take (out-of-range instants, NUL bytes, over-long card ids) is a
400 naming the field, on SQLite and PostgreSQL alike: never a 500 from the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

URL = "/cds-services/her2-cns-patient-view/feedback"


@pytest.fixture
def web(make_app: Callable[..., Flask], database_url: str) -> Iterator[FlaskClient]:
    app = make_app(database_url=database_url)
    yield app.test_client()
    app.extensions["cds"].feedback.close()


def overridden(**fields: object) -> dict:
    item = {"card": "card-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z"}
    return {"feedback": [{**item, **fields}]}


BAD_FEEDBACK = {
    "an instant before year 1 in UTC": (
        overridden(outcomeTimestamp="0001-01-01T00:00:00+14:00"),
        "feedback[0].outcomeTimestamp",
    ),
    "an instant after year 9999 in UTC": (
        overridden(outcomeTimestamp="9999-12-31T23:59:59-12:00"),
        "feedback[0].outcomeTimestamp",
    ),
    "a NUL byte in card": (overridden(card="card\x00-1"), "feedback[0].card"),
    "a card id of 201 characters": (overridden(card="c" * 201), "feedback[0].card"),
    "a NUL byte in userComment": (
        overridden(overrideReason={"userComment": "no\x00"}),
        "feedback[0].overrideReason.userComment",
    ),
    "a NUL byte in reason.code": (
        overridden(overrideReason={"reason": {"system": "http://e.org", "code": "a\x00"}}),
        "feedback[0].overrideReason.reason.code",
    ),
}


@pytest.mark.parametrize(("body", "field"), BAD_FEEDBACK.values(), ids=BAD_FEEDBACK.keys())
def test_feedback_the_store_cannot_take_gets_400_naming_the_field(web, body, field):
    response = web.post(URL, json=body)

    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "bad-request"
    assert response.get_json()["message"].startswith(f"{field}:")


def test_a_card_id_of_200_characters_is_stored(web):
    response = web.post(URL, json=overridden(card="c" * 200))

    assert response.status_code == 200
    assert response.get_json() == {"new": 1}
