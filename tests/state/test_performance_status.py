"""Performance status, case by case along shared/reference/real-world-fhir-representations.md
section 6: each ECOG / Karnofsky shape, the latest wins, and unreadable values that must come out
unknown."""

from __future__ import annotations

import pytest

from cds_service.state.model import UNKNOWN, PatientState
from tests.state.records import CERNER_LOCAL, LOINC, coding, concept, loinc, observation, state
from tests.state.support import state_of

ECOG = loinc("89247-1", "ECOG Performance Status score")
KPS = loinc("89243-0", "Karnofsky Performance Status score")


def ps(*resources: dict, unavailable: tuple[str, ...] = ()):
    return state(*resources, unavailable=unavailable).performance_status


READ = {
    "mCODE ECOG valueInteger with the LA answer in interpretation": (
        observation(
            "o",
            ECOG,
            valueInteger=1,
            interpretation=[concept(coding(LOINC, "LA9623-5", "Restricted in physically..."))],
        ),
        ("ECOG", 1),
        "ECOG 1 (Observation code LOINC, valueInteger)",
    ),
    "valueInteger without interpretation (MITRE)": (
        observation("o", ECOG, valueInteger=0),
        ("ECOG", 0),
        "ECOG 0 (Observation code LOINC, valueInteger)",
    ),
    "verified LA code in interpretation only": (
        observation("o", ECOG, interpretation=[concept(coding(LOINC, "LA9625-0"))]),
        ("ECOG", 3),
        "ECOG 3 (Observation code LOINC, interpretation code)",
    ),
    "verified LA code in valueCodeableConcept": (
        observation("o", ECOG, valueCodeableConcept=concept(coding(LOINC, "LA9622-7"))),
        ("ECOG", 0),
        "ECOG 0 (Observation code LOINC, valueCodeableConcept code)",
    ),
    "unverified LA code read by its display text": (
        observation(
            "o",
            ECOG,
            valueCodeableConcept=concept(
                coding(
                    LOINC,
                    "LA9624-3",
                    "Ambulatory and capable of all selfcare but unable to carry out any work "
                    "activities. Up and about more than 50% of waking hours",
                )
            ),
        ),
        ("ECOG", 2),
        "ECOG 2 (Observation code LOINC, valueCodeableConcept text)",
    ),
    "valueString 1": (
        observation("o", ECOG, valueString="1"),
        ("ECOG", 1),
        "ECOG 1 (Observation code LOINC, valueString)",
    ),
    "valueString ECOG 1": (
        observation("o", ECOG, valueString="ECOG 1"),
        ("ECOG", 1),
        "ECOG 1 (Observation code LOINC, valueString)",
    ),
    "valueQuantity": (
        observation("o", ECOG, valueQuantity={"value": 2, "unit": "{score}"}),
        ("ECOG", 2),
        "ECOG 2 (Observation code LOINC, valueQuantity)",
    ),
    "local flowsheet code, score in text": (
        observation(
            "o",
            concept(coding(CERNER_LOCAL, "703512"), text="ECOG Performance Status"),
            valueString="2",
        ),
        ("ECOG", 2),
        "ECOG 2 (Observation code local, valueString)",
    ),
    "local row named only 'Performance status', scale in the value": (
        observation("o", concept(text="Performance status"), valueString="ECOG 3"),
        ("ECOG", 3),
        "ECOG 3 (Observation code local, valueString)",
    ),
    "LOINC 89262-0": (
        observation("o", loinc("89262-0", "Physical performance [ECOG]"), valueInteger=1),
        ("ECOG", 1),
        "ECOG 1 (Observation code LOINC, valueInteger)",
    ),
    "Karnofsky valueInteger (mCODE)": (
        observation("o", KPS, valueInteger=70),
        ("KPS", 70),
        "KPS 70 (Observation code LOINC, valueInteger)",
    ),
    "Karnofsky LA29176-7 in interpretation": (
        observation("o", KPS, interpretation=[concept(coding(LOINC, "LA29176-7"))]),
        ("KPS", 90),
        "KPS 90 (Observation code LOINC, interpretation code)",
    ),
}


@pytest.mark.parametrize(("resource", "expected", "basis"), READ.values(), ids=READ.keys())
def test_performance_status_is_read_from_its_representation(
    resource: dict, expected: tuple[str, int], basis: str
) -> None:
    fact = ps(resource)
    assert (fact.value.scale, fact.value.value) == expected
    assert fact.evidence == ("Observation/o",)
    assert fact.basis == basis


def test_the_latest_effective_wins() -> None:
    older = observation("old", ECOG, "2026-01-10", valueInteger=1)
    newer = observation("new", KPS, "2026-10-02", valueInteger=50)
    fact = ps(newer, older)
    assert (fact.value.scale, fact.value.value, str(fact.value.when)) == ("KPS", 50, "2026-10-02")


UNREADABLE = {
    "ECOG out of range": (ECOG, {"valueInteger": 7}),
    "ECOG not a whole number": (ECOG, {"valueQuantity": {"value": 1.5}}),
    "words with no score": (ECOG, {"valueString": "unable to assess"}),
    "Karnofsky not in steps of 10": (KPS, {"valueInteger": 75}),
}


@pytest.mark.parametrize(("scale", "value"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_latest_score_makes_performance_status_unknown(
    scale: dict, value: dict
) -> None:
    older = observation("old", ECOG, "2025-01-10", valueInteger=1)
    latest = observation("new", scale, "2026-10-02", **value)
    fact = ps(older, latest)
    assert fact.value is UNKNOWN  # the older ECOG 1 is not today's
    assert fact.notes == (
        "Observation/new: the latest performance status (2026-10-02) is not readable",
    )


def test_negative_control_no_performance_status() -> None:
    other = observation("bp", loinc("8480-6", "Systolic blood pressure"), valueInteger=120)
    fact = ps(other)
    assert fact.value is UNKNOWN
    assert fact.notes == ("no performance status recorded",)


def test_observations_not_obtained_is_unknown() -> None:
    assert ps(unavailable=("Observation",)).value is UNKNOWN


# --- hospice ------------------------------------------------------------------------------------


def _hospice_state(*resources: dict, unavailable: tuple[str, ...] = ()) -> PatientState:
    patient = {"resourceType": "Patient", "id": "h"}
    bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in (patient, *resources)]}
    return state_of(bundle, unavailable=unavailable)


def test_hospice_named_in_a_procedure() -> None:
    referral = {
        "resourceType": "Procedure",
        "id": "hospice",
        "status": "completed",
        "subject": {"reference": "Patient/h"},
        "code": {"text": "Referral to hospice"},
        "performedDateTime": "2026-11-01",
    }
    fact = _hospice_state(referral).hospice
    assert (fact.value, fact.evidence) == (True, ("Procedure/hospice",))


def test_no_hospice_only_when_conditions_and_procedures_were_obtained() -> None:
    fact = _hospice_state().hospice
    assert (fact.value, fact.basis) == (
        False,
        "Conditions and Procedures obtained and readable; none names hospice",
    )
    missing = _hospice_state(unavailable=("Procedure",)).hospice
    assert missing.value is UNKNOWN
    assert "Procedures could not be obtained" in missing.notes
