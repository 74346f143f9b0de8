"""Brain imaging, one case per row of the catalogue (shared/reference/clinical-terminology-and-
evidence.md section 4): ImagingStudy, DiagnosticReport and Procedure shapes of a brain MRI, a
negative control, and imaging that could not be obtained or read (then unknown, never "none")."""

from __future__ import annotations

import pytest

from cds_service.state.model import UNKNOWN
from tests.state.build_fixtures import BRAIN, CPT, DCM, LOINC, Patient, cc
from tests.state.support import state_of


def _patient() -> Patient:
    p = Patient("img", "1970-01-01")
    p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    return p


def _study(p: Patient, series_site: dict | None = BRAIN, **extra) -> dict:
    series = {"uid": "2.25.7", "modality": {"system": DCM, "code": "MR"}}
    if series_site:
        series["bodySite"] = series_site
    body = {"status": "available", "started": "2024-05-02T10:00:00Z", "series": [series], **extra}
    return p.add("ImagingStudy", "study", body)


def test_imaging_study_mr_with_a_brain_series() -> None:
    p = _patient()
    _study(p)
    mri = state_of(p.bundle("study")).last_brain_mri
    assert mri.value.text == "2024-05-02"
    assert mri.basis.startswith("ImagingStudy")


@pytest.mark.parametrize(
    "coding",
    [
        {"system": LOINC, "code": "24587-8"},
        {"system": LOINC, "code": "24589-4"},
        {"system": LOINC, "code": "30657-1"},
        {"system": LOINC, "code": "24590-2"},
        {"system": LOINC, "code": "24588-6"},
        {"system": CPT, "code": "70551"},
        {"system": CPT, "code": "70552"},
        {"system": CPT, "code": "70553"},
    ],
    ids=lambda c: c["code"],
)
@pytest.mark.parametrize("rtype", ["DiagnosticReport", "Procedure"])
def test_brain_mri_by_code(coding: dict, rtype: str) -> None:
    p = _patient()
    when = "effectiveDateTime" if rtype == "DiagnosticReport" else "performedDateTime"
    p.add(
        rtype,
        "mri",
        {
            "status": "final" if rtype == "DiagnosticReport" else "completed",
            "code": cc(coding),
            when: "2024-07-09",
        },
    )
    assert state_of(p.bundle("mri")).last_brain_mri.value.text == "2024-07-09"


def test_imaging_study_by_procedure_code_without_a_series_site() -> None:
    p = _patient()
    _study(p, None, procedureCode=[cc({"system": LOINC, "code": "24587-8"})])
    assert state_of(p.bundle("study")).last_brain_mri.value.text == "2024-05-02"


def test_negative_control_mammography_and_an_mr_of_another_site() -> None:
    p = _patient()
    p.add(
        "DiagnosticReport",
        "mammo",
        {
            "status": "final",
            "effectiveDateTime": "2024-07-09",
            "code": cc({"system": LOINC, "code": "24606-6"}),
        },
    )
    _study(p, {"system": "http://snomed.info/sct", "code": "39607008"})
    mri = state_of(p.bundle("no mri")).last_brain_mri
    assert mri.known and mri.value is None
    assert "none a brain MRI" in mri.basis


def test_imaging_not_obtained_is_unknown() -> None:
    state = state_of(_patient().bundle("no imaging"), unavailable=("ImagingStudy",))
    assert state.last_brain_mri.value is UNKNOWN


def test_a_malformed_imaging_study_makes_no_mri_unknown() -> None:
    p = _patient()
    study = _study(p)
    study["started"] = "last Tuesday"  # not a dateTime: skipped as malformed
    state = state_of(p.bundle("malformed study"))
    assert state.last_brain_mri.value is UNKNOWN
    assert any("could not be read" in n for n in state.last_brain_mri.notes)
