"""Every known brain, lesion, imaging and progression fact says where it came from (Fact.basis),
on every fixture and external example, so that `cds-service explain` can show it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.commands.explain import render
from tests.state.support import EXTERNAL, FIXTURES, load_bundle, state_of

BUNDLES = [p for p in sorted(FIXTURES.glob("*/*.json")) if "golden" not in p.parts] + sorted(
    EXTERNAL.glob("*.json")
)
FACTS = (
    "brain_metastases",
    "brain_metastases_onset",
    "brain_metastases_status",
    "leptomeningeal_disease",
    "mass_effect",
    "severe_mass_effect",
    "largest_brain_lesion_cm",
    "brain_lesion_count",
    "new_brain_lesion_count",
    "last_brain_mri",
    "extracranial_status",
    "progression_known",
)


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_each_known_fact_has_its_basis_and_explain_shows_it(path: Path) -> None:
    bundle = load_bundle(path)
    if bundle.get("resourceType") != "Bundle":
        pytest.skip("not a Bundle")
    state = state_of(bundle)
    shown = render(state)
    for name in FACTS:
        fact = getattr(state, name)
        if fact.known:
            assert fact.basis, f"{name} = {fact.value!r} has no basis"
            assert f"from: {fact.basis}" in shown, name
    for therapy in state.local_therapies:
        assert therapy.basis, therapy
