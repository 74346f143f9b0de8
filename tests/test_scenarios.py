"""Every hooks/ request through the real HTTP pipeline, compared with fixtures/golden/ cards.

The clock is pinned to 2026-11-23 (tests/conftest.py), the date the fixtures are written for. Each
card must also be valid against the response schema, and its "What we saw" must name only facts the
request carries: every date in the detail appears in the prefetch or the draft orders, and every
drug it names is recognised in them.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.cards import rule_id_of
from cds_service.rules.wording import agent_name
from cds_service.schemas import first_error, validator
from cds_service.state.terminology import agent_ids, agents_of
from cds_service.testing import compare_golden, load_json, post_hook

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted((ROOT / "hooks").glob("*.json"))
GOLDEN = ROOT / "fixtures" / "golden"
URGENCY = {"critical": 0, "warning": 1, "info": 2}
DATE = re.compile(r"\b\d{4}-\d{2}(?:-\d{2})?\b")
MEDICATION_TYPES = {
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "MedicationDispense",
}


def _request_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [
                e["resource"] for e in value.get("entry", []) if isinstance(e.get("resource"), dict)
            ]
        elif isinstance(value, dict):
            found.append(value)
    drafts = (request["context"].get("draftOrders") or {}).get("entry", [])
    return found + [e["resource"] for e in drafts]


def _agents_in(request: dict[str, Any]) -> set[str]:
    agents: set[str] = set()
    for resource in _request_resources(request):
        if resource.get("resourceType") in MEDICATION_TYPES:
            concept = resource.get("medicationCodeableConcept") or {}
            agents |= agents_of(
                concept, (resource.get("medicationReference") or {}).get("display", "")
            )
            for contained in resource.get("contained", []):
                agents |= agents_of(contained.get("code") or {})
    return agents


def what_we_saw(detail: str) -> str:
    """The fact lines a card lists before its advice."""
    head, _, rest = detail.partition("**What we saw**")
    assert head == "", "the facts come first"
    lines = rest.strip().split("\n\n", 1)[0]
    assert all(line.startswith("- ") for line in lines.splitlines()), lines
    return lines


def check_names_only_facts_in_the_request(card: dict[str, Any], request: dict[str, Any]) -> None:
    carried = json.dumps(
        {"prefetch": request.get("prefetch"), "draftOrders": request["context"].get("draftOrders")}
    )
    for date_text in DATE.findall(card["detail"]) + DATE.findall(card["summary"]):
        assert date_text in carried, f"{rule_id_of(card)}: date {date_text} is not in the request"
    seen = what_we_saw(card["detail"]).lower()
    present = _agents_in(request)
    # Cards name agents by display name ("trastuzumab deruxtecan" is T-DXd, not trastuzumab):
    # longest names first, each found name taken out of the text before shorter ones are sought.
    names = sorted(((agent_name(a).lower(), a) for a in agent_ids()), key=lambda n: -len(n[0]))
    for name, agent in names:
        pattern = rf"(?<![a-z-]){re.escape(name)}(?![a-z-])"
        if re.search(pattern, seen):
            assert agent in present, (
                f"{rule_id_of(card)}: names {agent}, which the request does not show"
            )
            seen = re.sub(pattern, " ", seen)


def test_every_hook_request_has_a_golden():
    assert HOOKS, "hooks/ is empty: run tools/make_hooks.py"
    missing = [p.stem for p in HOOKS if not (GOLDEN / f"{p.stem}.json").exists()]
    assert missing == []
    orphans = [p.stem for p in GOLDEN.glob("*.json") if not (ROOT / "hooks" / p.name).exists()]
    assert orphans == []


SEVERE_MASS_EFFECT = ("hydrocephalus", "midline shift", "herniation")


@pytest.mark.parametrize("path", [pytest.param(path, id=path.stem) for path in HOOKS])
def test_hook_request_gives_the_golden_cards(client: FlaskClient, path: Path) -> None:
    request = load_json(path)
    golden = load_json(GOLDEN / path.name)
    result = post_hook(client, request)
    assert result.status == 200, result.body
    assert first_error(validator("cards-response"), result.body) is None
    cards = result.cards
    ranks = [URGENCY[c["indicator"]] for c in cards]
    assert ranks == sorted(ranks), "cards come in order of urgency"
    assert compare_golden(cards, golden) == [], golden["why"]
    for card in cards:
        assert len(card["summary"]) < 140
        assert card["source"]["url"].startswith("https://") and card["source"]["label"]
        check_names_only_facts_in_the_request(card, request)
    # critical is kept for the two cases CLINICAL_RULES names: a true lapatinib rechallenge, and
    # recorded hydrocephalus, midline shift or herniation from a brain metastasis
    for card in cards:
        if card["indicator"] == "critical":
            assert rule_id_of(card) == "LAPATINIB-RECHALLENGE" or (
                rule_id_of(card) == "MASS-EFFECT-LOCAL-THERAPY"
                and any(f in card["summary"].lower() for f in SEVERE_MASS_EFFECT)
            ), card["summary"]
    # one card per rule and order: no two cards say the same thing
    assert len({c["uuid"] for c in cards}) == len(cards)


def test_hooks_are_rebuilt_from_the_manifest():
    spec = importlib.util.spec_from_file_location("make_hooks", ROOT / "tools" / "make_hooks.py")
    assert spec is not None and spec.loader is not None
    make_hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_hooks)
    assert make_hooks.main(["--check"]) == 0, "hooks/ is stale: run tools/make_hooks.py"
