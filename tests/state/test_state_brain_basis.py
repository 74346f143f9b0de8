"""Every known fact of the state says where it came from (Fact.basis), and every course and
progression event its evidence, on every fixture and external example, so that `cds-service
explain` can show it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cds_service.commands.explain import render
from cds_service.state.model import Fact, PatientState
from tests.state.support import EXTERNAL, FIXTURES, load_bundle, state_of

BUNDLES = [p for p in sorted(FIXTURES.glob("*/*.json")) if "golden" not in p.parts] + sorted(
    EXTERNAL.glob("*.json")
)


def _facts(state: PatientState) -> dict[str, Fact]:
    """Every Fact of the state (diagnosis, HER2, brain, therapy history, performance status...)."""
    return {
        f.name: value
        for f in dataclasses.fields(state)
        if isinstance(value := getattr(state, f.name), Fact)
    }


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_each_known_fact_has_its_basis_and_explain_shows_it(path: Path) -> None:
    bundle = load_bundle(path)
    if bundle.get("resourceType") != "Bundle":
        pytest.skip("not a Bundle")
    state = state_of(bundle)
    shown = render(state)
    facts = _facts(state)
    assert {"breast_cancer", "brain_metastases", "hospice", "local_therapy_known"} <= set(facts)
    for name, fact in facts.items():
        if fact.known:
            assert fact.basis, f"{name} = {fact.value!r} has no basis"
            assert f"from: {fact.basis}" in shown, name
    for therapy in state.local_therapies:
        assert therapy.basis, therapy
    for course in state.courses:
        assert course.evidence and course.representation, course
    for event in state.progression_events:
        assert event.evidence, event
