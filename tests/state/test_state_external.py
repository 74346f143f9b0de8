"""Real example data from outside the project derives what a clinician would read from it."""

from __future__ import annotations

import json

import pytest

from tests.state.support import EXTERNAL, state_of


def _bundle(*names: str) -> dict:
    entries = []
    for name in names:
        body = json.loads((EXTERNAL / name).read_text(encoding="utf-8"))
        resources = (
            [e["resource"] for e in body["entry"]]
            if body.get("resourceType") == "Bundle"
            else [body]
        )
        entries += [{"resource": r} for r in resources]
    return {"resourceType": "Bundle", "entry": entries}


def test_jenny_m_is_her2_negative_breast_cancer_without_brain_metastases() -> None:
    state = state_of(_bundle("Bundle-mcode-patient-bundle-jenny-m.json"))
    assert state.breast_cancer.value is True
    assert state.her2.status.value == "negative"
    assert state.brain_metastases.value is False
    assert state.performance_status.value.value == 0  # type: ignore[union-attr]


def test_john_anypersons_brain_metastasis_is_from_lung_cancer_not_breast() -> None:
    state = state_of(
        _bundle(
            "Patient-cancer-patient-john-anyperson.json",
            "Condition-primary-cancer-condition-nsclc.json",
            "Condition-secondary-cancer-condition-brain-mets.json",
        )
    )
    assert state.breast_cancer.value is False
    assert state.brain_metastases.value is False
    assert any("not of breast cancer" in n for n in state.brain_metastases.notes)


def test_trial_matching_patient_01_infiltrating_duct_carcinoma_is_breast_cancer_her2_negative() -> (
    None
):
    state = state_of(_bundle("TrialMatching_Patient01.json"))
    assert (state.breast_cancer.value, state.her2.status.value, state.brain_metastases.value) == (
        True,
        "negative",
        False,
    )


def test_messy_mitre_patient_is_her2_positive() -> None:
    # Its HER2 Observations carry two value[x] (coded Positive beside a number): read after a
    # reported repair that keeps the coded interpretation.
    state = state_of(_bundle("patient_data.json"))
    assert state.breast_cancer.value is True
    assert state.her2.status.value == "positive"


@pytest.mark.parametrize("name", sorted(p.name for p in EXTERNAL.glob("*.json")))
def test_no_external_example_crashes_the_derivation(name: str) -> None:
    state = state_of(_bundle(name))
    assert state.today.isoformat() == "2026-11-23"
