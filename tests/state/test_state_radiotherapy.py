"""Radiotherapy and resection, one case per row of the catalogue (shared/reference/real-world-fhir-
representations.md section 5): billing codes with and without a brain site, ICD-10-PCS, mCODE
course summaries (fractions, dose, snapshots, re-irradiation), text, grouping of sessions."""

from __future__ import annotations

import pytest

from tests.state.build_fixtures import BRAIN, CPT, SCT, Patient, cc
from tests.state.support import state_of

LUNG = {"system": SCT, "code": "39607008", "display": "Lung structure (body structure)"}
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
REIRRADIATION = (
    "http://hl7.org/fhir/us/codex-radiation-therapy/StructureDefinition/"
    "codexrt-radiotherapy-course-involves-reirradiation"
)


def _patient() -> Patient:
    p = Patient("rt", "1970-01-01")
    p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    return p


def _procedure(p: Patient, code: dict, when: str = "2024-04-01", **extra) -> dict:
    body = {"status": "completed", "code": code, "performedDateTime": when, **extra}
    return p.add("Procedure", "rt", body)


def _kinds(p: Patient) -> list[tuple[str, int | None]]:
    return [(t.kind, t.fractions) for t in state_of(p.bundle("rt")).local_therapies]


@pytest.mark.parametrize(
    ("code", "sites", "expected"),
    [
        ({"system": CPT, "code": "77372"}, [], [("srs", 1)]),
        ({"system": CPT, "code": "61796"}, [], [("srs", 1)]),
        ({"system": PCS, "code": "D020DZZ"}, [], [("srs", 1)]),
        ({"system": CPT, "code": "77373"}, [cc(BRAIN)], [("srs", 1)]),
        ({"system": CPT, "code": "77435"}, [cc(BRAIN)], [("srs", 1)]),
        ({"system": HCPCS, "code": "G0339"}, [cc(BRAIN)], [("srs", 1)]),
        ({"system": CPT, "code": "77373"}, [cc(LUNG)], []),
        ({"system": PCS, "code": "D0001ZZ"}, [cc(BRAIN)], []),
    ],
    ids=[
        "CPT 77372",
        "CPT 61796",
        "PCS D020DZZ",
        "CPT 77373 on brain",
        "CPT 77435 on brain",
        "G0339 on brain",
        "CPT 77373 on lung (negative)",
        "PCS beam radiation of brain, no words (left out)",
    ],
)
def test_procedure_codes(code: dict, sites: list[dict], expected: list) -> None:
    p = _patient()
    _procedure(p, cc(code), bodySite=sites)
    assert _kinds(p) == expected


def test_pcs_beam_radiation_counts_by_its_words() -> None:
    p = _patient()
    _procedure(p, cc({"system": PCS, "code": "D0001ZZ"}, text="Whole brain radiotherapy, HA"))
    (wbrt,) = state_of(p.bundle("rt")).local_therapies
    assert wbrt.kind == "wbrt"


def test_fractions_billed_per_session_form_one_course_within_14_days() -> None:
    p = _patient()
    for day in ("2024-04-01", "2024-04-03", "2024-04-05"):
        _procedure(p, cc({"system": HCPCS, "code": "G0340"}), day, bodySite=[cc(BRAIN)])
    _procedure(p, cc({"system": HCPCS, "code": "G0340"}), "2024-06-01", bodySite=[cc(BRAIN)])
    assert _kinds(p) == [("srs", 3), ("srs", 1)]


def _course(p: Patient, fractions: int | None, *, status: str = "completed", **extra) -> dict:
    volume: list[dict] = [{"url": "volume", "valueReference": {"reference": "BodyStructure/v"}}]
    if fractions is not None:
        volume.append({"url": "fractionsDelivered", "valueUnsignedInt": fractions})
    volume += extra.pop("dose", [])
    return p.add(
        "Procedure",
        "course",
        {
            "status": status,
            "code": cc({"system": SCT, "code": "1217123003"}),
            "performedPeriod": {"start": "2024-04-01", "end": "2024-04-10"},
            "bodySite": [cc(BRAIN, text=extra.pop("site_text", None))],
            "extension": [
                {"url": MCODE + "mcode-radiotherapy-dose-delivered-to-volume", "extension": volume}
            ]
            + extra.pop("extensions", []),
            **extra,
        },
    )


@pytest.mark.parametrize(
    ("fractions", "expected"),
    [(1, [("srs", 1)]), (5, [("srs", 5)]), (10, [("wbrt", 10)]), (15, [("wbrt", 15)]), (7, [])],
)
def test_mcode_course_summary_by_fractions(fractions: int, expected: list) -> None:
    p = _patient()
    _course(p, fractions)
    assert _kinds(p) == expected


def test_mcode_course_fractions_before_sessions_and_whole_brain_from_text() -> None:
    p = _patient()
    sessions = {"url": MCODE + "mcode-radiotherapy-sessions", "valueUnsignedInt": 6}
    _course(p, 5, extensions=[sessions])
    assert _kinds(p) == [("srs", 5)]
    q = _patient()
    _course(q, None, site_text="Whole brain", note=[{"text": "Hippocampal avoidance"}])
    (wbrt,) = state_of(q.bundle("rt")).local_therapies
    assert (wbrt.kind, wbrt.hippocampal_avoidance) == ("wbrt", True)


def test_mcode_course_without_fractions_or_words_is_not_claimed() -> None:
    p = _patient()
    _course(p, None)
    assert _kinds(p) == []


@pytest.mark.parametrize(("value", "unit", "cgy"), [(2500, "cGy", 2500.0), (25, "Gy", 2500.0)])
def test_dose_delivered_in_cgy_or_gy(value: float, unit: str, cgy: float) -> None:
    p = _patient()
    dose = {"url": "totalDoseDelivered", "valueQuantity": {"value": value, "code": unit}}
    _course(p, 5, dose=[dose])
    (course,) = state_of(p.bundle("rt")).local_therapies
    assert course.dose_cgy == cgy


def test_in_progress_and_completed_snapshots_of_one_course_count_once() -> None:
    p = _patient()
    _course(p, 1, status="in-progress")
    _course(p, 5)
    (course,) = state_of(p.bundle("rt")).local_therapies
    assert (course.kind, course.fractions, course.status) == ("srs", 5, "completed")


def test_reirradiation_and_laterality_of_the_course() -> None:
    p = _patient()
    reirr = {"url": REIRRADIATION, "valueBoolean": True}
    _course(p, 3, extensions=[reirr], site_text="R frontal")
    (course,) = state_of(p.bundle("rt")).local_therapies
    assert (course.reirradiation, course.laterality) == (True, "right")
    assert "brain-region:right frontal" in course.target_codes


def test_resection_by_cpt_and_negative_control() -> None:
    p = _patient()
    _procedure(p, cc({"system": CPT, "code": "61510"}))
    _procedure(p, cc({"system": CPT, "code": "99213"}, text="Office visit"))
    assert _kinds(p) == [("resection", None)]


def test_procedures_not_obtained_make_local_therapy_unknown() -> None:
    state = state_of(_patient().bundle("rt"), unavailable=("Procedure",))
    assert state.local_therapies == ()
    assert state.local_therapy_known.value is False  # so the empty tuple means "unknown"
