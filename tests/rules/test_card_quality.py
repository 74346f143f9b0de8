"""Every card the service gives, on every record we have, is what CLINICAL_RULES.md says a card must be.

The corpus: every hooks/ request; every fixture Bundle (fixtures/*/) on patient-view and on
order-select with each probe order (a lapatinib rechallenge, the tucatinib triplet, large
antibodies and a taxane, whole-brain radiotherapy, SRS); the warm-up's synthetic record; the
external example bundles (tests/state/external). All through the real HTTP pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from cds_service.rules.loader import cited_recommendations
from cds_service.testing import bundle_resources, hook_request, load_json, post_hook
from cds_service.warmup import synthetic_requests
from tests.conftest import TODAY
from tests.rules.card_quality import (
    length_problems,
    option_problems,
    response_problems,
    wording_problems,
)
from tests.rules.rendering import KNOWLEDGE
from tests.state.support import state_of
from tools.make_hooks import draft_order

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted((ROOT / "hooks").glob("*.json"))
FIXTURES = sorted(p for p in (ROOT / "fixtures").glob("*/*.json") if p.parent.name != "golden")
EXTERNAL = sorted(
    p
    for p in (ROOT / "tests" / "state" / "external").glob("*.json")
    if json.loads(p.read_text(encoding="utf-8")).get("resourceType") == "Bundle"
)
PROBES = {
    "lapatinib": ["lapatinib", "capecitabine"],
    "tucatinib-triplet": ["tucatinib", "trastuzumab", "capecitabine"],
    "antibodies-taxane": ["trastuzumab", "pertuzumab", "docetaxel"],
    "wbrt": ["wbrt"],
    "srs": ["srs-left-frontal"],
}


def _state(request: dict[str, Any]) -> Any:
    entries: list[dict[str, Any]] = []
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            entries += value.get("entry", [])
        elif isinstance(value, dict) and "resourceType" in value:
            entries.append({"resource": value})
    return state_of({"entry": entries}, request["context"])


def _requests_for(bundle: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    patient = next(r["id"] for r in bundle_resources(bundle) if r["resourceType"] == "Patient")
    yield "patient-view", hook_request(bundle, "patient-view", as_of=TODAY.isoformat())
    for name, keys in PROBES.items():
        orders = [draft_order(k, patient) for k in keys]
        request = hook_request(bundle, "order-select", draft_orders=orders, as_of=TODAY.isoformat())
        yield f"order-select {name}", request


def _check(client: FlaskClient, name: str, request: dict[str, Any]) -> list[str]:
    result = post_hook(client, request)
    assert result.status == 200, (name, result.body)
    problems = response_problems(result.cards, request["hook"], _state(request))
    return [f"{name}: {p}" for p in problems]


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: p.stem)
def test_every_hooks_request_gives_cards_a_clinician_can_trust(client: FlaskClient, path: Path):
    assert _check(client, path.stem, load_json(path)) == []


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_fixture_on_every_hook_and_probe_order(client: FlaskClient, path: Path):
    problems = []
    for name, request in _requests_for(load_json(path)):
        problems += _check(client, f"{path.stem} {name}", request)
    assert problems == []


def test_the_warm_up_synthetic_record(client: FlaskClient):
    problems = []
    for route, body in synthetic_requests():
        request = orjson.loads(body)
        request["extension"] = {"org.her2cns.asOfDate": TODAY.isoformat()}
        problems += _check(client, route, request)
    assert problems == []


@pytest.mark.parametrize("path", EXTERNAL, ids=lambda p: p.stem)
def test_external_example_records(client: FlaskClient, path: Path):
    bundle = load_json(path)
    if not any(r.get("resourceType") == "Patient" for r in bundle_resources(bundle)):
        pytest.skip("no Patient in this bundle")
    problems = []
    for name, request in _requests_for(bundle):
        problems += _check(client, f"{path.stem} {name}", request)
    assert problems == []


# --- the checks can fail: each one on a card that breaks it ------------------------------------

GOOD = {
    "summary": "Brain progression 2026-10-05 on trastuzumab: CNS-active HER2 options",
    "indicator": "info",
    "detail": "**What we saw**\n\n- HER2-positive\n\nOptions:\n\n- trastuzumab deruxtecan (DESTINY-Breast12)",
    "source": {"label": "x", "topic": {"code": "CNS-ACTIVE-THERAPY"}},
    "suggestions": [
        {
            "label": "Start trastuzumab deruxtecan",
            "actions": [
                {
                    "type": "create",
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "medicationCodeableConcept": {
                            "coding": [
                                {
                                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                    "code": "2267582",
                                }
                            ]
                        },
                    },
                }
            ],
        }
    ],
    "selectionBehavior": "at-most-one",
}


def _state_with(**kwargs: Any) -> Any:
    from tests.rules.builders import patient

    return patient(**kwargs)


def test_a_good_card_passes_every_check():
    assert response_problems([GOOD], "patient-view", _state_with()) == []


def test_length_limits_and_the_source_footer_are_caught():
    long = {
        **GOOD,
        "summary": "x" * 140,
        "detail": GOOD["detail"] + "\n\n_Source: ASCO._" + "y" * 900,
    }
    problems = length_problems(long)
    assert problems[0] == "summary 140 characters" and "source footer in the detail" in problems
    assert any(p.startswith("detail ") for p in problems)
    saw = {**GOOD, "detail": "**What we saw**\n\n" + "\n".join(f"- fact {i}" for i in range(6))}
    assert length_problems(saw) == ["6 'What we saw' lines"]


def test_internal_wording_and_unresolved_citations_are_caught():
    bad = {**GOOD, "summary": "SRS: 2 course(s), stopped for completed on t-dxd (rec. 10.9)"}
    assert wording_problems(bad) == [
        "internal wording 't-dxd'",
        "internal wording 'course(s)'",
        "internal wording 'stopped for completed'",
        "rec. 10.9 is not in the ASCO table",
    ]
    assert cited_recommendations("rec. 6.1 and 6.3; rec. 7.1") == ["6.1", "6.3", "7.1"]


def test_text_that_lists_an_option_the_buttons_leave_out_is_caught():
    bad = {
        **GOOD,
        "detail": GOOD["detail"]
        + "\n- tucatinib + trastuzumab + capecitabine (ASCO 2022 rec. 7.1)",
    }
    assert option_problems(bad, _state_with()) == [
        "options in the text ['trastuzumab deruxtecan', 'tucatinib + trastuzumab + capecitabine'] "
        "but suggested ['trastuzumab deruxtecan']"
    ]


def test_offering_what_failed_or_duplicating_an_active_agent_is_caught():
    from tests.rules.builders import progression, regimen

    event = progression("2026-01-01")
    tdxd = regimen("t-dxd", "2025-01-01", "2026-01-10", "progression", event)
    assert option_problems(GOOD, _state_with(regimens=(tdxd,), progressions=(event,))) == [
        "suggests t-dxd, progressed on or stopped for toxicity"
    ]
    running = regimen("t-dxd", "2025-01-01")
    assert option_problems(GOOD, _state_with(regimens=(running,))) == [
        "creates t-dxd, already active or drafted: Start trastuzumab deruxtecan"
    ]


def test_a_replace_that_leaves_a_draft_is_caught():
    from tests.rules.builders import draft

    replace_one = {
        **GOOD,
        "suggestions": [
            {
                "label": "Replace lapatinib with trastuzumab deruxtecan",
                "actions": [
                    {"type": "delete", "resourceId": "MedicationRequest/lap"},
                    *GOOD["suggestions"][0]["actions"],
                ],
            }
        ],
    }
    orders = (
        draft("lapatinib", "MedicationRequest/lap"),
        draft("capecitabine", "MedicationRequest/cap"),
    )
    assert option_problems(replace_one, _state_with(orders=orders)) == [
        "replace leaves drafts ['MedicationRequest/cap']"
    ]


def test_incoherent_responses_are_caught():
    def card(rule: str) -> dict[str, Any]:
        return {
            **GOOD,
            "source": {"label": "x", "topic": {"code": rule}},
            "suggestions": [],
            "detail": "",
        }

    three = [
        card("CNS-ACTIVE-THERAPY"),
        card("BRAIN-MRI-SURVEILLANCE"),
        card("LOCAL-THERAPY-FIRST"),
    ]
    problems = response_problems(three, "patient-view", _state_with())
    assert problems[0].startswith("3 patient-view cards")
    assert "LOCAL-THERAPY-FIRST beside CNS-ACTIVE-THERAPY" in problems
    twice = [GOOD, {**GOOD, "source": {"label": "x", "topic": {"code": "TKI-AFTER-TKI"}}}]
    assert "overlapping option lists: ['trastuzumab deruxtecan', 'trastuzumab deruxtecan']" in (
        response_problems(twice, "order-select", _state_with())
    )
    assert KNOWLEDGE.policy is not None
