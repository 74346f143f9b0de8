"""Replay hooks/ through the app, answer each card as a clinician would, and read the report."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.commands import report

HOOKS = Path(__file__).resolve().parents[2] / "hooks"
HOOK_FILES = sorted(HOOKS.glob("**/*.json"))
DECIDED_AT = "2026-11-23T10:00:00Z"


@pytest.fixture
def web(make_app: Callable[..., Flask], database_url: str) -> Iterator[FlaskClient]:
    # clock_override: the example requests may pin "today" so their cards are reproducible.
    app = make_app(database_url=database_url, clock_override=True)
    yield app.test_client()
    app.extensions["cds"].feedback.close()


def _feedback_for(card: dict, n: int) -> dict | None:
    """Accept every other card that offers a suggestion; override the rest with a comment."""
    suggestions = [s["uuid"] for s in card.get("suggestions", ()) if "uuid" in s]
    if n % 2 == 0 and suggestions:
        return {
            "card": card["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": suggestions[0]}],
            "outcomeTimestamp": DECIDED_AT,
        }
    return {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {"userComment": "replay"},
        "outcomeTimestamp": DECIDED_AT,
    }


def test_report_after_replaying_hooks_counts_every_card_and_answer(
    web: FlaskClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    if not HOOK_FILES:
        pytest.skip("hooks/ has no example requests yet")
    shown: Counter[str] = Counter()
    answered: Counter[tuple[str, str]] = Counter()
    n = 0
    for path in HOOK_FILES:
        request = json.loads(path.read_text())
        service_id = {
            "patient-view": "her2-cns-patient-view",
            "order-select": "her2-cns-order-select",
            "order-sign": "her2-cns-order-sign",
        }[request["hook"]]
        response = web.post(f"/cds-services/{service_id}", json=request)
        assert response.status_code == 200, (path.name, response.get_json())
        for card in response.get_json()["cards"]:
            shown[service_id] += 1
            item = _feedback_for(card, n) if "uuid" in card else None
            n += 1
            if item is None:
                continue
            posted = web.post(f"/cds-services/{service_id}/feedback", json={"feedback": [item]})
            assert posted.status_code == 200
            answered[(service_id, item["outcome"])] += 1

    assert shown, "no example in hooks/ produced a card: nothing for the report to count"
    assert web.application.extensions["cds"].feedback.flush()  # the audit rows, from the spool
    monkeypatch.setenv("CDS_DATABASE_URL", database_url)
    parser = argparse.ArgumentParser()
    report.register(parser)
    assert report.run(parser.parse_args(["--json"])) == 0
    data = json.loads(capsys.readouterr().out)

    by_service = {s["service_id"]: s for s in data["services"]}
    for service_id, count in shown.items():
        assert by_service[service_id]["shown"] == count
        assert by_service[service_id]["accepted"] == answered[(service_id, "accepted")]
        assert by_service[service_id]["overridden"] == answered[(service_id, "overridden")]
    # Every answered card was audited, so no feedback is unmatched.
    assert data["unmatched_feedback"] == 0
    assert sum(rule["shown"] for rule in data["rules"]) == sum(shown.values())
