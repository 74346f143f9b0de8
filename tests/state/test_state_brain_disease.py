"""Brain metastases and leptomeningeal disease, one case per row of the catalogue
(shared/reference/real-world-fhir-representations.md section 4.1): each representation, a
negative control, and malformed or missing data that must come out unknown."""

from __future__ import annotations

import pytest

from cds_service.state.model import UNKNOWN
from tests.state.build_fixtures import BRAIN, ICD, SCT, Patient, cc
from tests.state.support import state_of

LUNG = {"system": SCT, "code": "39607008", "display": "Lung structure (body structure)"}


def _patient() -> tuple[Patient, dict]:
    p = Patient("bd", "1970-01-01")
    return p, p.breast_cancer("2022-01-10")


def _with(code: dict, **extra) -> dict:
    p, primary = _patient()
    p.condition("met", code, "2024-03-01", "mcode-secondary-cancer-condition", **extra)
    return state_of(p.bundle("brain disease"))


def _related(primary_id: str) -> list[dict]:
    return [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/condition-related",
            "valueReference": {"reference": f"Condition/{primary_id}"},
        }
    ]


@pytest.mark.parametrize(
    ("row", "code", "basis"),
    [
        ("ICD-10-CM C79.31", cc({"system": ICD, "code": "C79.31"}), "Condition coded C79.31"),
        ("SNOMED 94225005", cc({"system": SCT, "code": "94225005"}), "Condition coded 94225005"),
        ("ICD-10-CM parent C79.3", cc({"system": ICD, "code": "C79.3"}), "Condition coded C79.3"),
        ("text only", cc(text="Brain metastases, 3 lesions"), "Condition text"),
    ],
)
def test_brain_metastasis_by_code_or_words(row: str, code: dict, basis: str) -> None:
    state = _with(code)
    assert state.brain_metastases.value is True, row
    assert state.brain_metastases.basis.startswith(basis)
    assert state.brain_metastases_onset.value.text == "2024-03-01"
    assert state.brain_metastases_status.value == "active"


def test_post_coordinated_secondary_malignancy_with_brain_body_site() -> None:
    state = _with(cc({"system": SCT, "code": "128462008"}), bodySite=[cc(BRAIN)])
    assert state.brain_metastases.value is True
    assert "post-coordinated" in state.brain_metastases.basis


def test_post_coordinated_secondary_malignancy_elsewhere_is_not_a_brain_metastasis() -> None:
    state = _with(cc({"system": SCT, "code": "128462008"}), bodySite=[cc(LUNG)])
    assert state.brain_metastases.value is False


def test_generic_malignancy_on_the_brain_needs_its_primary_to_be_a_metastasis() -> None:
    p, primary = _patient()
    p.condition(
        "met",
        cc({"system": SCT, "code": "363346000"}),
        "2024-03-01",
        "mcode-secondary-cancer-condition",
        bodySite=[cc(BRAIN)],
        extension=_related(primary["id"]),
    )
    assert state_of(p.bundle("tied")).brain_metastases.value is True
    # Without the tie it may be a primary brain tumour: not claimed.
    untied = _with(cc({"system": SCT, "code": "363346000"}), bodySite=[cc(BRAIN)])
    assert untied.brain_metastases.value is False


def test_primary_brain_tumour_code_is_not_a_metastasis() -> None:
    state = _with(cc({"system": ICD, "code": "C71.9", "display": "Malignant neoplasm of brain"}))
    assert state.brain_metastases.value is False
    assert any("primary brain tumour" in n for n in state.brain_metastases.notes)


def test_resolved_and_entered_in_error() -> None:
    resolved = _with(cc({"system": ICD, "code": "C79.31"}), clinicalStatus=cc({"code": "resolved"}))
    assert resolved.brain_metastases_status.value == "resolved"
    wrong = _with(
        cc({"system": ICD, "code": "C79.31"}),
        verificationStatus=cc({"code": "entered-in-error"}),
    )
    assert wrong.brain_metastases.value is False
    assert any("entered-in-error" in n for n in wrong.notes)


@pytest.mark.parametrize(
    "code",
    [
        cc({"system": ICD, "code": "C79.32"}),
        cc(text="LMD"),
        cc(text="Carcinomatous meningitis"),
        cc(text="Leptomeningeal metastases"),
    ],
    ids=["C79.32", "LMD", "carcinomatous meningitis", "leptomeningeal"],
)
def test_leptomeningeal_disease_by_code_or_words_is_not_parenchymal(code: dict) -> None:
    state = _with(code)
    assert state.leptomeningeal_disease.value is True
    assert state.brain_metastases.value is False


def test_negative_control_breast_cancer_only() -> None:
    p, _ = _patient()
    state = state_of(p.bundle("no brain disease"))
    assert state.brain_metastases.value is False
    assert state.leptomeningeal_disease.value is False
    assert "none codes or names" in state.brain_metastases.basis


def test_conditions_not_obtained_are_unknown() -> None:
    p, _ = _patient()
    state = state_of(p.bundle("no conditions"), unavailable=("Condition",))
    assert state.brain_metastases.value is UNKNOWN
    assert state.leptomeningeal_disease.value is UNKNOWN


def test_a_malformed_condition_makes_absence_unknown() -> None:
    p, _ = _patient()
    met = p.condition("met", cc({"system": ICD, "code": "C79.31"}), "2024-03-01", "x")
    met["onsetDateTime"] = "March 2024"  # not a FHIR dateTime: the resource is skipped
    state = state_of(p.bundle("malformed"))
    assert state.brain_metastases.value is UNKNOWN
    assert any("skipped" in n for n in state.notes)
