"""Hook-time fetching through a proxy that collapses `//` (as the SMART App Launcher's does) gives
the same cards as fetching directly, and as a full prefetch: search values go percent-encoded."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from cds_service.testing import fhir_server, load_json, post_hook, slash_collapsing_proxy

HOOKS = Path(__file__).resolve().parents[2] / "hooks"
REQUESTS = ["order-select-lapatinib-rechallenge.json", "scenario-01-patient-view.json"]


def resources_of(request: dict) -> list[dict]:
    found = []
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [e["resource"] for e in value.get("entry", [])]
        elif isinstance(value, dict):
            found.append(value)
    return found


def summaries(result) -> list[tuple[str, str]]:
    assert result.status == 200, result.body
    return sorted((card["indicator"], card["summary"]) for card in result.cards)


@pytest.mark.parametrize("name", REQUESTS)
def test_fetching_through_a_slash_collapsing_proxy_gives_the_prefetched_cards(
    make_app: Callable[..., Flask], name: str
):
    request = load_json(HOOKS / name)
    with fhir_server(resources_of(request)) as direct, slash_collapsing_proxy(direct) as proxy:
        # Generous time limits: a busy CI machine must not turn a slow answer into "unknown".
        client = make_app(
            fhir_dev_servers=(direct, proxy),
            fhir_read_timeout=10.0,
            fhir_deadline=20.0,
        ).test_client()
        prefetched = summaries(post_hook(client, request))
        fetched = {}
        for via, base in (("direct", direct), ("proxy", proxy)):
            without_prefetch = copy.deepcopy(request)
            without_prefetch.pop("prefetch")
            without_prefetch["fhirServer"] = base
            fetched[via] = summaries(post_hook(client, without_prefetch))

    assert prefetched, "the request must make cards for the comparison to mean anything"
    # Before: through the proxy the critical rechallenge card fell to info ("no progression on it
    # is recorded") and the patient-view card disappeared.
    assert fetched == {"direct": prefetched, "proxy": prefetched}
